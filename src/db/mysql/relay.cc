// The relay between client and server (DESIGN section 6): two transfer coroutines awaited with ||,
// so when one side closes the other is cancelled. Client packets are cut whole (the policy and the
// auditor need them); server bytes stream through one bounded buffer and only the response
// tracker looks at them, so a 100 MB result costs no more memory than a small one. Each direction
// writes before it reads again: a slow reader stops the other side's reads (back-pressure).
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "common/log.h"
#include "common/read_buffer.h"
#include "db/mysql/command_policy.h"
#include "db/mysql/internal/session_io.h"
#include "protocol/mysql/decoder.h"

namespace tp::db::mysql_internal {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr size_t kClientChunk = 16 * 1024;
constexpr auto kIdlePoll = std::chrono::milliseconds(5);

// What both directions share; they run on the session's strand, one at a time.
struct Shared {
  Shared(RelayParts& p, const asio::any_io_executor& executor)
      : parts(p), decoder(p.auditor, p.capabilities), to_client(p.client, executor) {}
  RelayParts& parts;
  mysql::Decoder decoder;
  SerialWriter to_client;
  internal::DeadlineReason stopping = internal::DeadlineReason::kNone;
  // Set by the direction that ended, before it cancels what the other has pending: the other may
  // be about to resume (its last operation completed, not yet run) and must not start a new one,
  // which nothing would cancel. Each direction looks before it reads, waits or writes.
  bool stopped = false;
};

RelayEnd end_for(internal::DeadlineReason reason) {
  return reason == internal::DeadlineReason::kShutdown ? RelayEnd::kShutdown : RelayEnd::kCertificateExpired;
}

// Waits until every forwarded command has its whole response (pipelined commands are rare; a
// short poll keeps this simple). Returns at once in the common case.
asio::awaitable<void> wait_server_idle(Shared& s) {
  const asio::any_io_executor timer_executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(timer_executor);
  while (!s.decoder.server_idle()) {
    timer.expires_after(kIdlePoll);
    co_await timer.async_wait(kTuple);
  }
}

asio::awaitable<RelayEnd> client_to_server(Shared& s) {
  RelayParts& p = s.parts;
  std::string& buffer = p.client_pending;
  mysql::PacketFramer framer;
  std::string held;  // fragments of a split packet, forwarded once it is whole
  ReadSizer sizer(kIdleReadSize, kClientChunk);
  while (true) {
    while (true) {
      auto step = framer.next(buffer);
      if (!step.ok()) {
        *p.error_detail = step.error().message;
        co_return RelayEnd::kClientProtocolError;
      }
      if (!step->packet) {
        held.append(buffer, 0, step->consumed);
        buffer.erase(0, step->consumed);
        break;
      }
      const mysql::Packet& packet = *step->packet;
      // LOCAL INFILE data is told from commands by state, not sequence id (a long file wraps it to 0).
      const bool command = !p.auditor.in_local_infile() && packet.sequence_id == 0;
      if (p.auditor.in_local_infile() && packet.payload.empty()) p.auditor.local_infile_done();
      if (command && s.stopping != internal::DeadlineReason::kNone) {
        // The session is ending: forward nothing new; the server side ends it once idle.
        const asio::any_io_executor forever_executor = co_await asio::this_coro::executor;
        asio::steady_timer forever(forever_executor, asio::steady_timer::time_point::max());
        co_await forever.async_wait(kTuple);
        co_return end_for(s.stopping);
      }
      if (command) {
        CommandVerdict verdict = check_command(packet.payload, p.capabilities, p.allowed_database);
        if (!verdict.forward) {
          // Answer in order: after the responses to what was forwarded before.
          co_await wait_server_idle(s);
          std::string err =
              mysql::encode_packet(mysql::encode_err_packet(verdict.refusal, p.capabilities), 1);
          held.clear();
          buffer.erase(0, step->consumed);
          if (!(co_await s.to_client.write(err)).ok()) co_return RelayEnd::kClientClosed;
          continue;
        }
      }
      if (auto decoded = s.decoder.on_client_packet(packet); !decoded.ok()) {
        *p.error_detail = decoded.error().message;
        co_return RelayEnd::kClientProtocolError;
      }
      if (s.stopped) co_return RelayEnd::kClientClosed;
      Status sent;
      if (held.empty()) {
        sent = co_await write_bytes(p.upstream, std::string_view(buffer).substr(0, step->consumed),
                                    net::without_cancellation());
      } else {
        held.append(buffer, 0, step->consumed);
        sent = co_await write_bytes(p.upstream, held, net::without_cancellation());
        held.clear();
      }
      buffer.erase(0, step->consumed);
      if (!sent.ok()) co_return RelayEnd::kServerClosed;
      if (p.auditor.quit()) co_return RelayEnd::kClientClosed;
    }
    if (s.stopped) co_return RelayEnd::kClientClosed;
    if (auto wec = co_await internal::wait_between_messages(p.client, sizer, buffer); wec)
      co_return RelayEnd::kClientClosed;
    if (s.stopped) co_return RelayEnd::kClientClosed;
    size_t old = buffer.size();
    sizer.make_room(buffer);
    auto [ec, n] = co_await p.client.async_read_some(asio::buffer(buffer.data() + old, sizer.next()),
                                                     net::without_cancellation());
    buffer.resize(old + n);
    if (ec) co_return RelayEnd::kClientClosed;
    sizer.used(n);
  }
}

asio::awaitable<RelayEnd> server_to_client(Shared& s) {
  RelayParts& p = s.parts;
  ReadBuffer buffer(kIdleReadSize, kReadChunk);
  while (true) {
    boost::system::error_code ec;
    size_t n = 0;
    if (s.stopped) co_return RelayEnd::kServerClosed;
    if (s.stopping == internal::DeadlineReason::kNone) {
      auto read = co_await internal::read_or_deadline(p.upstream, buffer, buffer.size(), p.deadline);
      if (read.ending != internal::DeadlineReason::kNone) {
        s.stopping = read.ending;
        continue;
      }
      ec = read.ec;
      n = read.n;
    } else {
      // Finish the responses in flight, then stop: never cut one in half.
      if (s.decoder.server_idle()) co_return end_for(s.stopping);
      std::tie(ec, n) = co_await p.upstream.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                            net::without_cancellation());
    }
    if (ec) co_return RelayEnd::kServerClosed;
    std::string_view chunk(buffer.data(), n);
    Status decoded = s.decoder.on_server_data(chunk);
    if (!decoded.ok()) {
      // Still pass the bytes on: they may be the server's last words (an ERR before it closes).
      (void)co_await s.to_client.write(chunk);
      *p.error_detail = decoded.error().message;
      co_return RelayEnd::kServerProtocolError;
    }
    if (!(co_await s.to_client.write(chunk)).ok()) co_return RelayEnd::kClientClosed;
    buffer.used(n);
  }
}

// One direction, then `stopped` and cancel_pending: the other direction's reads, waits and writes
// take no cancellation slot (its timer waits do, and `||` ends those).
template <asio::awaitable<RelayEnd> (*kDirection)(Shared&)>
asio::awaitable<RelayEnd> then_stop_the_other(Shared& s) {
  try {
    RelayEnd end = co_await kDirection(s);
    s.stopped = true;
    net::cancel_pending(s.parts.client, s.parts.upstream);
    co_return end;
  } catch (...) {
    s.stopped = true;
    net::cancel_pending(s.parts.client, s.parts.upstream);
    throw;
  }
}

}  // namespace

asio::awaitable<RelayEnd> relay(RelayParts parts) {
  // No co_await inside the initializer: GCC 12 destroys temporaries of such an initializer too early.
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  Shared s(parts, executor);
  auto outcome =
      co_await (then_stop_the_other<client_to_server>(s) || then_stop_the_other<server_to_client>(s));
  co_return outcome.index() == 0 ? std::get<0>(outcome) : std::get<1>(outcome);
}

}  // namespace tp::db::mysql_internal
