#include "tunnel/mux.h"

#include <algorithm>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/byte_queue.h"
#include "common/log.h"

namespace tp::tunnel {

namespace asio = boost::asio;
using boost::system::error_code;

namespace mux_internal {

// One stream's state at the link. Owned by the link's table; removed when its MuxStream closes (or,
// for a stream the proxy is still opening, when the answer is a refusal or the open is cancelled).
struct StreamState {
  uint32_t id = 0;
  bool opening = false;     // proxy: kOpen sent, no answer yet
  bool peer_fin = false;    // the peer sends nothing more
  bool fin_sent = false;    // we send nothing more
  bool peer_reset = false;  // the peer dropped the stream
  bool refused = false;     // agent: answered no; the proxy has forgotten the stream

  ByteQueue rx;  // arrived, not yet read
  uint32_t send_credit = 0;  // what we may still send
  uint32_t recv_left = 0;    // what the peer may still send
  uint32_t unacked = 0;      // read by our reader and not yet returned as credit

  // Pending operations. In optionals, emplaced and taken, never assigned: Boost 1.81's
  // any_completion_handler move assignment wraps the handler in itself until the stack ends.
  std::optional<MuxStream::ReadHandler> read_handler;
  asio::mutable_buffer read_buffer;
  std::optional<MuxStream::ReadHandler> write_handler;
  asio::const_buffer write_buffer;
  bool write_blocked = false;  // listed in Link::blocked (the connection's queue is full)
  std::optional<MuxStream::WaitHandler> wait_handler;
  std::optional<MuxConnection::OpenHandler> open_handler;

  size_t buffered() const { return rx.size(); }
};

namespace {

// The pending handler, out of its optional.
template <class Handler>
Handler take(std::optional<Handler>& pending) {
  Handler handler(std::move(*pending));
  pending.reset();
  return handler;
}

template <class Handler>
void clear_slot(Handler& handler) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  if (slot.is_connected()) slot.clear();
}

// Completes `handler` on the connection's loop, never inside the call that completes it. Every
// user of a stream runs on that loop (see mux.h), so the handler's own executor is that loop too.
template <class Handler, class... Args>
void post_completion(const asio::any_io_executor& loop, Handler handler, Args... args) {
  clear_slot(handler);
  asio::post(loop, [h = std::move(handler), ... a = std::move(args)]() mutable { std::move(h)(std::move(a)...); });
}

}  // namespace

struct Link : std::enable_shared_from_this<Link> {
  Link(std::unique_ptr<net::TlsStream> t, MuxConnection::Side s, MuxOptions o, MuxOpenHandler open,
       std::function<void(const error_code&)> closed, std::function<void(uint32_t)> want)
      : tls(std::move(t)),
        executor(tls->get_executor()),
        side(s),
        options(o),
        on_open(std::move(open)),
        on_closed(std::move(closed)),
        on_want(std::move(want)) {}

  std::unique_ptr<net::TlsStream> tls;
  asio::any_io_executor executor;
  MuxConnection::Side side;
  MuxOptions options;
  MuxOpenHandler on_open;
  std::function<void(const error_code&)> on_closed;
  std::function<void(uint32_t)> on_want;

  std::unordered_map<uint32_t, std::unique_ptr<StreamState>> streams;
  std::atomic<size_t> stream_count{0};
  uint32_t next_id = 1;
  std::atomic<bool> going_away{false};
  std::atomic<bool> failed{false};
  error_code failure;

  static constexpr size_t kReadBufferSize = 64 * 1024;
  std::vector<char> in = std::vector<char>(kReadBufferSize);
  size_t in_filled = 0;
  std::string out;      // frames queued, not yet handed to TLS
  std::string sending;  // frames TLS is writing
  bool writing = false;
  bool flush_posted = false;
  std::deque<uint32_t> blocked;  // streams whose write waits for the queue to drain

  // ---- the connection

  void read_more() {
    auto self = shared_from_this();
    tls->async_read_some(asio::buffer(in.data() + in_filled, in.size() - in_filled),
                         [self](error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(error_code ec, size_t n) {
    if (failed) return;
    if (ec) return fail(ec == asio::error::eof ? asio::error::connection_aborted : ec, "read");
    in_filled += n;
    size_t pos = 0;
    size_t need = 0;  // the whole size of a frame that has not fully arrived
    while (!failed) {
      FrameHeader header;
      const std::string_view rest(in.data() + pos, in_filled - pos);
      const HeaderCheck check = read_frame_header(rest, header);
      if (check == HeaderCheck::kNeedMore) break;
      if (check != HeaderCheck::kOk)
        return protocol_error(check == HeaderCheck::kBadType ? "unknown frame type" : "frame too long");
      if (rest.size() < kFrameHeaderSize + header.length) {
        need = kFrameHeaderSize + header.length;
        break;
      }
      handle_frame(header, rest.substr(kFrameHeaderSize, header.length));
      pos += kFrameHeaderSize + header.length;
    }
    if (failed) return;
    if (pos > 0) {
      std::memmove(in.data(), in.data() + pos, in_filled - pos);
      in_filled -= pos;
    }
    // Room for the frame under way (a dial line may be larger than the usual buffer), and back to
    // the usual size after it.
    const size_t size = std::max(kReadBufferSize, need);
    if (in.size() != size) {
      in.resize(size);
      in.shrink_to_fit();
    }
    read_more();
  }

  void protocol_error(const std::string& what) {
    log::warn("tunnel", "tunnel connection broke the multiplexing protocol; closing it", {{"error", what}});
    fail(asio::error::connection_aborted, "protocol");
  }

  // Ends the connection: every pending operation fails, later ones too.
  void fail(error_code ec, const char* where) {
    if (failed) return;
    failed = true;
    failure = ec;
    going_away = true;
    if (ec != asio::error::operation_aborted)
      log::debug("tunnel", "tunnel connection ended", {{"where", where}, {"error", ec.message()}});
    for (auto it = streams.begin(); it != streams.end();) {
      StreamState& s = *it->second;
      if (s.open_handler) {
        post_completion(executor, take(s.open_handler), error_code(asio::error::not_connected),
                        std::unique_ptr<MuxStream>(), std::string());
        it = streams.erase(it);
        --stream_count;
        continue;
      }
      finish_read(s, asio::error::connection_aborted);
      finish_write(s, asio::error::connection_aborted);
      finish_wait(s, {});
      ++it;
    }
    blocked.clear();
    error_code ignored;
    tls->next_layer().close(ignored);
    if (on_closed) {
      auto callback = std::move(on_closed);
      asio::post(executor, [callback = std::move(callback), ec] { callback(ec); });
    }
  }

  void schedule_flush() {
    if (writing || flush_posted || failed) return;
    flush_posted = true;
    // Posted, so the frames other sessions queue in this turn of the loop go out in the same write.
    asio::post(executor, [self = shared_from_this()] {
      self->flush_posted = false;
      self->flush();
    });
  }

  void flush() {
    if (writing || out.empty() || failed) return;
    std::swap(out, sending);
    writing = true;
    asio::async_write(*tls, asio::buffer(sending), [self = shared_from_this()](error_code ec, size_t) {
      self->writing = false;
      self->sending.clear();
      if (self->sending.capacity() > 4 * self->options.max_queued) std::string().swap(self->sending);
      if (ec) return self->fail(ec, "write");
      self->unblock_writers();
      self->flush();
    });
  }

  void unblock_writers() {
    std::deque<uint32_t> waiting;
    waiting.swap(blocked);
    for (uint32_t id : waiting) {
      auto it = streams.find(id);
      if (it == streams.end()) continue;
      it->second->write_blocked = false;
      try_write(*it->second);
    }
  }

  void send_control(FrameType type, uint32_t id, std::string_view payload = {}) {
    if (failed) return;
    // Data waits for room (try_write); control frames do not, so a peer that sends and never reads
    // could make them pile up: past this, it is treated as broken.
    if (out.size() > 4 * options.max_queued) return protocol_error("the peer reads nothing of what it is sent");
    append_frame(out, type, id, payload);
    schedule_flush();
  }

  StreamState* find(uint32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.get();
  }

  StreamState& add_stream(uint32_t id) {
    auto state = std::make_unique<StreamState>();
    state->id = id;
    state->send_credit = options.window;
    state->recv_left = options.window;
    StreamState& s = *state;
    streams.emplace(id, std::move(state));
    ++stream_count;
    return s;
  }

  void erase_stream(uint32_t id) {
    if (streams.erase(id) > 0) --stream_count;
  }

  // ---- frames from the peer

  void handle_frame(const FrameHeader& h, std::string_view payload) {
    if (h.type == FrameType::kGoAway) {
      if (side != MuxConnection::Side::kProxy) return protocol_error("go-away sent to the agent");
      going_away = true;
      return;
    }
    if (h.type == FrameType::kWant) {
      if (side != MuxConnection::Side::kAgent) return protocol_error("want sent to the proxy");
      auto count = window_credit(payload);
      if (!count) return protocol_error("want frame without a 4-byte count");
      if (on_want) on_want(*count);
      return;
    }
    if (h.stream == 0) return protocol_error(std::string(frame_type_name(h.type)) + " frame on stream 0");
    if (h.type == FrameType::kOpen) return on_open_frame(h.stream, payload);
    StreamState* s = find(h.stream);
    switch (h.type) {
      case FrameType::kAnswer:
        if (side != MuxConnection::Side::kProxy) return protocol_error("answer sent to the agent");
        if (!s || !s->opening) {  // an open we gave up on
          if (!s) send_control(FrameType::kReset, h.stream);
          return;
        }
        return on_answer(*s, payload);
      case FrameType::kData:
        if (!s) return send_control(FrameType::kReset, h.stream);  // we closed it; tell the sender
        if (s->peer_fin || s->peer_reset || s->opening) return protocol_error("data after the end of a stream");
        if (payload.size() > s->recv_left) return protocol_error("data beyond the stream's window");
        s->recv_left -= static_cast<uint32_t>(payload.size());
        return deliver(*s, payload);
      case FrameType::kWindow: {
        auto credit = window_credit(payload);
        if (!credit) return protocol_error("window frame without a 4-byte credit");
        if (!s) return;
        if (uint64_t(s->send_credit) + *credit > uint64_t(options.window) * 2)
          return protocol_error("credit beyond the window");
        s->send_credit += *credit;
        if (s->write_handler && !s->write_blocked) try_write(*s);
        return;
      }
      case FrameType::kFin:
        if (!s) return send_control(FrameType::kReset, h.stream);
        s->peer_fin = true;
        if (s->read_handler && s->buffered() == 0) finish_read(*s, asio::error::eof);
        finish_wait(*s, {});
        return;
      case FrameType::kReset:
        if (!s) return;
        s->peer_reset = true;
        if (s->open_handler) {
          post_completion(executor, take(s->open_handler), error_code(asio::error::connection_refused),
                          std::unique_ptr<MuxStream>(), std::string("the agent ended the stream"));
          erase_stream(h.stream);
          return;
        }
        finish_write(*s, asio::error::connection_reset);
        if (s->read_handler && s->buffered() == 0) finish_read(*s, asio::error::connection_reset);
        finish_wait(*s, {});
        return;
      default:
        return protocol_error("unexpected frame");
    }
  }

  void on_open_frame(uint32_t id, std::string_view payload) {
    if (side != MuxConnection::Side::kAgent) return protocol_error("open sent to the proxy");
    if (find(id)) return protocol_error("open of a stream that is open");
    StreamState& s = add_stream(id);
    auto stream = std::make_unique<MuxStream>(shared_from_this(), &s);
    if (!on_open) {
      stream->answer(false, "this end opens no streams");
      return;
    }
    on_open(std::move(stream), std::string(payload));
  }

  void on_answer(StreamState& s, std::string_view payload) {
    const bool accepted = !payload.empty() && payload[0] == 1;
    std::string text(payload.empty() ? payload : payload.substr(1));
    auto handler = take(s.open_handler);
    if (!accepted) {
      erase_stream(s.id);
      return post_completion(executor, std::move(handler), error_code(asio::error::connection_refused),
                             std::unique_ptr<MuxStream>(), std::move(text));
    }
    s.opening = false;
    auto stream = std::make_unique<MuxStream>(shared_from_this(), &s);
    post_completion(executor, std::move(handler), error_code(), std::move(stream), std::move(text));
  }

  void deliver(StreamState& s, std::string_view payload) {
    if (payload.empty()) return;
    if (s.read_handler && s.buffered() == 0) {
      // Straight into the waiting reader's buffer; what does not fit waits in rx.
      const size_t n = std::min(payload.size(), s.read_buffer.size());
      std::memcpy(s.read_buffer.data(), payload.data(), n);
      if (n < payload.size()) s.rx.append(payload.substr(n));
      consumed(s, n);
      auto handler = take(s.read_handler);
      post_completion(executor, std::move(handler), error_code(), n);
    } else {
      s.rx.append(payload);
    }
    finish_wait(s, {});
  }

  // Our reader took n bytes: return credit once a quarter of the window is used, so a bulk
  // transfer never waits for it and an interactive one sends few window frames.
  void consumed(StreamState& s, size_t n) {
    s.unacked += static_cast<uint32_t>(n);
    if (s.unacked >= options.window / 4 && !s.peer_fin && !s.peer_reset) {
      append_window_frame(out, s.id, s.unacked);
      s.recv_left += s.unacked;
      s.unacked = 0;
      schedule_flush();
    }
  }

  // ---- operations of a stream

  void finish_read(StreamState& s, error_code ec) {
    if (!s.read_handler) return;
    auto handler = take(s.read_handler);
    post_completion(executor, std::move(handler), ec, size_t{0});
  }

  void finish_write(StreamState& s, error_code ec) {
    if (s.write_blocked) {  // it no longer waits for room in the connection's queue
      blocked.erase(std::remove(blocked.begin(), blocked.end(), s.id), blocked.end());
      s.write_blocked = false;
    }
    if (!s.write_handler) return;
    auto handler = take(s.write_handler);
    post_completion(executor, std::move(handler), ec, size_t{0});
  }

  void finish_wait(StreamState& s, error_code ec) {
    if (!s.wait_handler) return;
    auto handler = take(s.wait_handler);
    post_completion(executor, std::move(handler), ec);
  }

  // Takes what it can from rx for a read; false if there is nothing to take.
  bool read_buffered(StreamState& s) {
    if (s.rx.empty()) return false;
    const size_t n = s.rx.take(static_cast<char*>(s.read_buffer.data()), s.read_buffer.size());
    consumed(s, n);
    auto handler = take(s.read_handler);
    post_completion(executor, std::move(handler), error_code(), n);
    return true;
  }

  void read(StreamState& s) {
    if (s.read_buffer.size() == 0) {
      auto handler = take(s.read_handler);
      return post_completion(executor, std::move(handler), error_code(), size_t{0});
    }
    if (read_buffered(s)) return;
    if (error_code ec = read_end(s)) return finish_read(s, ec);
    // else: waits for data
  }

  // Why a read with nothing buffered ends instead of waiting: the peer finished or reset, or the
  // connection failed.
  error_code read_end(const StreamState& s) const {
    if (s.peer_fin) return asio::error::eof;
    if (s.peer_reset) return asio::error::connection_reset;
    if (failed) return asio::error::connection_aborted;
    return {};
  }

  // Why a write fails at once.
  error_code write_refusal(const StreamState& s) const {
    if (s.fin_sent) return asio::error::shut_down;
    if (s.peer_reset) return asio::error::connection_reset;
    if (failed) return asio::error::connection_aborted;
    return {};
  }

  // Queues one data frame of as much of `buffer` as the stream's credit allows; returns its size.
  // Call with credit left and room in the connection's queue.
  size_t queue_data(StreamState& s, asio::const_buffer buffer) {
    const size_t n = std::min({buffer.size(), size_t{s.send_credit}, kMaxDataPayload});
    append_frame(out, FrameType::kData, s.id, std::string_view(static_cast<const char*>(buffer.data()), n));
    s.send_credit -= static_cast<uint32_t>(n);
    schedule_flush();
    return n;
  }

  void try_write(StreamState& s) {
    if (!s.write_handler) return;
    if (error_code ec = write_refusal(s)) return finish_write(s, ec);
    if (s.write_buffer.size() == 0) {
      auto handler = take(s.write_handler);
      return post_completion(executor, std::move(handler), error_code(), size_t{0});
    }
    if (s.send_credit == 0) return;  // waits for the peer's window frame
    if (out.size() >= options.max_queued) {
      if (!s.write_blocked) {
        s.write_blocked = true;
        blocked.push_back(s.id);
      }
      return;
    }
    const size_t n = queue_data(s, s.write_buffer);
    auto handler = take(s.write_handler);
    post_completion(executor, std::move(handler), error_code(), n);
  }

  void cancel(StreamState& s) {
    finish_read(s, asio::error::operation_aborted);
    finish_write(s, asio::error::operation_aborted);
    finish_wait(s, asio::error::operation_aborted);
  }

  void send_fin(StreamState& s) {
    if (s.fin_sent || s.peer_reset || s.refused) return;
    s.fin_sent = true;
    send_control(FrameType::kFin, s.id);
  }

  void close(StreamState& s) {
    cancel(s);
    if (!s.peer_reset && !s.refused) {
      if (s.peer_fin)
        send_fin(s);
      else
        send_control(FrameType::kReset, s.id);
    }
    erase_stream(s.id);
  }

  void answer(StreamState& s, bool accepted, const std::string& text) {
    if (s.peer_reset) return;  // the proxy gave up waiting
    std::string payload(1, accepted ? '\1' : '\0');
    payload += text;
    send_control(FrameType::kAnswer, s.id, payload);
    if (!accepted) s.refused = true;
  }

  // The context is shutting down (LinkRegistry): no handler will run again. They are destroyed
  // after the loop over the streams, since destroying one may close a stream (erase it).
  void drop_handlers() {
    failed = true;
    std::vector<std::optional<MuxStream::ReadHandler>> reads;
    std::vector<std::optional<MuxStream::WaitHandler>> waits;
    std::vector<std::optional<MuxConnection::OpenHandler>> opens;
    for (auto& [id, state] : streams) {
      reads.push_back(std::move(state->read_handler));
      reads.push_back(std::move(state->write_handler));
      waits.push_back(std::move(state->wait_handler));
      opens.push_back(std::move(state->open_handler));
      state->read_handler.reset();
      state->write_handler.reset();
      state->wait_handler.reset();
      state->open_handler.reset();
    }
    blocked.clear();
    auto callbacks = std::make_tuple(std::move(on_open), std::move(on_closed), std::move(on_want));
    on_open = nullptr;
    on_closed = nullptr;
    on_want = nullptr;
  }

  void open(std::string payload, MuxConnection::OpenHandler handler) {
    if (failed || going_away || next_id == 0) {
      return post_completion(executor, std::move(handler), error_code(asio::error::not_connected),
                             std::unique_ptr<MuxStream>(), std::string());
    }
    const uint32_t id = next_id++;  // 0 after 2^32 - 1 opens: the connection takes no more
    StreamState& s = add_stream(id);
    s.opening = true;
    auto slot = asio::get_associated_cancellation_slot(handler);
    s.open_handler.emplace(std::move(handler));
    if (slot.is_connected()) {
      slot.assign([self = shared_from_this(), id](asio::cancellation_type) { self->cancel_open(id); });
    }
    send_control(FrameType::kOpen, id, payload);
  }

  void cancel_open(uint32_t id) {
    StreamState* s = find(id);
    if (!s || !s->opening || !s->open_handler) return;
    auto handler = take(s->open_handler);
    send_control(FrameType::kReset, id);
    erase_stream(id);
    post_completion(executor, std::move(handler), error_code(asio::error::operation_aborted),
                    std::unique_ptr<MuxStream>(), std::string());
  }
};

}  // namespace mux_internal

using mux_internal::Link;
using mux_internal::StreamState;

namespace {

// The links of one io_context. A stream's pending handler can hold the coroutine that holds the
// stream, which holds its link: a cycle that only completing the handler breaks. When the context
// shuts down with links still open, their handlers are destroyed unrun, as Asio destroys its own
// pending operations then, so nothing outlives the context.
class LinkRegistry : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit LinkRegistry(asio::execution_context& context) : service(context) {}

  void add(const std::shared_ptr<Link>& link) {
    std::lock_guard lock(mu_);
    std::erase_if(links_, [](const std::weak_ptr<Link>& l) { return l.expired(); });
    links_.push_back(link);
  }

 private:
  void shutdown() override {
    std::vector<std::weak_ptr<Link>> links;
    {
      std::lock_guard lock(mu_);
      links.swap(links_);
    }
    for (auto& weak : links)
      if (auto link = weak.lock()) link->drop_handlers();
  }

  std::mutex mu_;
  std::vector<std::weak_ptr<Link>> links_;
};

}  // namespace

// ---- MuxStream

MuxStream::MuxStream(std::shared_ptr<Link> link, StreamState* state)
    : link_(std::move(link)), state_(state), executor_(link_->executor), id_(state->id) {}

MuxStream::~MuxStream() {
  error_code ignored;
  close(ignored);
}

namespace {

// A cancellation slot handler that aborts one kind of operation of a stream. The slot is cleared
// whenever the operation completes, before the state could go away.
template <class Handler, class Abort>
void on_cancel(Handler& handler, Abort abort) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  if (slot.is_connected()) slot.assign([abort](asio::cancellation_type) { abort(); });
}

}  // namespace

void MuxStream::start_read(asio::mutable_buffer buffer, ReadHandler handler) {
  if (!state_) return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::bad_descriptor), size_t{0});
  StreamState& s = *state_;
  if (s.read_handler)  // one read at a time, as on a socket
    return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::in_progress), size_t{0});
  Link* link = link_.get();
  on_cancel(handler, [link, &s] { link->finish_read(s, asio::error::operation_aborted); });
  s.read_handler.emplace(std::move(handler));
  s.read_buffer = buffer;
  link_->read(s);
}

void MuxStream::start_write(asio::const_buffer buffer, ReadHandler handler) {
  if (!state_) return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::bad_descriptor), size_t{0});
  StreamState& s = *state_;
  if (s.write_handler)
    return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::in_progress), size_t{0});
  Link* link = link_.get();
  on_cancel(handler, [link, &s] { link->finish_write(s, asio::error::operation_aborted); });
  s.write_handler.emplace(std::move(handler));
  s.write_buffer = buffer;
  link_->try_write(s);
}

namespace {

// The stream a try operation works on: null, with bad_descriptor once it is closed, or with
// in_progress while an asynchronous operation of the same kind (`pending`) waits.
template <class Pending>
StreamState* ready_for_try(StreamState* state, Pending StreamState::*pending, error_code& ec) {
  ec = {};
  if (!state)
    ec = asio::error::bad_descriptor;
  else if (state->*pending)
    ec = asio::error::in_progress;
  return ec ? nullptr : state;
}

}  // namespace

size_t MuxStream::try_read_some(asio::mutable_buffer buffer, error_code& ec) {
  StreamState* state = ready_for_try(state_, &StreamState::read_handler, ec);
  if (!state) return 0;
  StreamState& s = *state;
  if (buffer.size() == 0) return 0;
  if (!s.rx.empty()) {
    const size_t n = s.rx.take(static_cast<char*>(buffer.data()), buffer.size());
    link_->consumed(s, n);
    return n;
  }
  ec = link_->read_end(s);
  if (!ec) ec = asio::error::would_block;
  return 0;
}

size_t MuxStream::try_write_some(asio::const_buffer buffer, error_code& ec) {
  StreamState* state = ready_for_try(state_, &StreamState::write_handler, ec);
  if (!state) return 0;
  StreamState& s = *state;
  if ((ec = link_->write_refusal(s))) return 0;
  if (buffer.size() == 0) return 0;
  // No credit, or the connection's queue is full: the asynchronous write waits for it in turn.
  if (s.send_credit == 0 || link_->out.size() >= link_->options.max_queued) {
    ec = asio::error::would_block;
    return 0;
  }
  return link_->queue_data(s, buffer);
}

void MuxStream::start_wait(WaitHandler handler) {
  if (!state_) return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::bad_descriptor));
  StreamState& s = *state_;
  if (s.wait_handler)
    return mux_internal::post_completion(executor_, std::move(handler), error_code(asio::error::in_progress));
  if (s.buffered() > 0 || s.peer_fin || s.peer_reset || link_->failed)
    return mux_internal::post_completion(executor_, std::move(handler), error_code());
  Link* link = link_.get();
  on_cancel(handler, [link, &s] { link->finish_wait(s, asio::error::operation_aborted); });
  s.wait_handler.emplace(std::move(handler));
}

void MuxStream::complete_now(WaitHandler handler, error_code ec) {
  mux_internal::post_completion(executor_, std::move(handler), ec);
}

void MuxStream::cancel(error_code& ec) {
  ec = {};
  if (!state_) return;
  link_->cancel(*state_);
}

void MuxStream::shutdown(asio::socket_base::shutdown_type what, error_code& ec) {
  ec = {};
  if (!state_) {
    ec = asio::error::bad_descriptor;
    return;
  }
  if (what == asio::socket_base::shutdown_receive) return;
  link_->send_fin(*state_);
}

void MuxStream::close(error_code& ec) {
  ec = {};
  if (!state_) return;
  link_->close(*state_);
  state_ = nullptr;
}

void MuxStream::answer(bool accepted, const std::string& text) {
  if (!state_) return;
  link_->answer(*state_, accepted, text);
  if (!accepted) {
    error_code ignored;
    close(ignored);
  }
}

// ---- MuxConnection

std::shared_ptr<MuxConnection> MuxConnection::start(std::unique_ptr<net::TlsStream> tls, Side side,
                                                    MuxOptions options, MuxOpenHandler on_open,
                                                    std::function<void(const error_code&)> on_closed,
                                                    std::function<void(uint32_t)> on_want) {
  auto link = std::make_shared<Link>(std::move(tls), side, options, std::move(on_open), std::move(on_closed),
                                     std::move(on_want));
  asio::use_service<LinkRegistry>(asio::query(link->executor, asio::execution::context)).add(link);
  auto connection = std::shared_ptr<MuxConnection>(new MuxConnection(link));
  // Started through the loop, so that on_open never runs inside start().
  asio::post(link->executor, [link] { link->read_more(); });
  return connection;
}

MuxConnection::~MuxConnection() = default;

asio::any_io_executor MuxConnection::get_executor() const { return link_->executor; }

void MuxConnection::start_open(std::string payload, OpenHandler handler) { link_->open(std::move(payload), std::move(handler)); }

void MuxConnection::go_away() {
  if (link_->side != Side::kAgent || link_->failed) return;
  link_->going_away = true;
  link_->send_control(FrameType::kGoAway, 0);
}

void MuxConnection::want_connections(uint32_t count) {
  if (link_->side != Side::kProxy || link_->failed) return;
  append_window_frame(link_->out, 0, count, FrameType::kWant);
  link_->schedule_flush();
}

void MuxConnection::close() { link_->fail(asio::error::operation_aborted, "close"); }

size_t MuxConnection::open_streams() const { return link_->stream_count; }
bool MuxConnection::going_away() const { return link_->going_away; }
bool MuxConnection::closed() const { return link_->failed; }

}  // namespace tp::tunnel
