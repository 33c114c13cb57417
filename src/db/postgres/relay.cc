// The relay between client and server (DESIGN section 6): two transfer
// coroutines, the client's in the relay's own coroutine and the server's spawned
// beside it (net::first_to_end); when one side closes the other is stopped.
// Each direction holds one bounded buffer and writes before it reads again:
// a slow reader stops the other side's reads (back-pressure), memory stays flat.
#include <boost/asio/write.hpp>

#include "common/read_buffer.h"
#include "db/postgres/frame_tracker.h"
#include "db/postgres/internal/session_io.h"
#include "net/relay_ops.h"
#include "protocol/postgres/backend_messages.h"
#include "protocol/postgres/decoder.h"

namespace tp::db::pg_internal {

namespace asio = boost::asio;

namespace {

// One TLS record holds at most 16 KiB; reading a few at a time keeps the
// per-session footprint small while large results still stream quickly. An
// idle session waits for data without a read buffer (common/read_buffer.h).
constexpr size_t kServerChunk = 64 * 1024;
constexpr size_t kClientChunk = 16 * 1024;

// Runs in the relay's own coroutine, which nothing cancels: it checks `stopped` (the server side
// ended) before each operation.
asio::awaitable<RelayEnd> client_to_server(ClientConn& client, net::TlsStream& upstream,
                                           QueryAuditor& auditor, const bool& stopped) {
  pg::Decoder decoder(auditor);
  std::string& buffer = client.pending;
  ReadSizer sizer(kIdleReadSize, kClientChunk);
  while (true) {
    if (!buffer.empty()) {
      auto outcome = decoder.on_data(buffer, pg::Direction::kFrontend);
      if (outcome.status == pg::DecodeStatus::kError) co_return RelayEnd::kClientProtocolError;
      if (outcome.consumed > 0) {
        if (stopped) co_return RelayEnd::kServerClosed;
        auto [ec, n] = co_await asio::async_write(upstream, asio::buffer(buffer.data(), outcome.consumed),
                                                  net::without_cancellation());
        if (ec) co_return RelayEnd::kServerClosed;
        buffer.erase(0, outcome.consumed);
      }
      if (auditor.terminated()) co_return RelayEnd::kClientClosed;
    }
    if (stopped) co_return RelayEnd::kServerClosed;
    if (auto wec = co_await internal::wait_between_messages(client.stream, sizer, buffer); wec)
      co_return RelayEnd::kClientClosed;
    if (stopped) co_return RelayEnd::kServerClosed;
    // Only messages the decoder inspects (queries, Parse, Bind) wait here whole;
    // everything else streams through in chunks.
    size_t old = buffer.size();
    sizer.make_room(buffer);
    auto [ec, n] = co_await client.stream.async_read_some(asio::buffer(buffer.data() + old, sizer.next()),
                                                          net::without_cancellation());
    buffer.resize(old + n);
    if (ec) co_return RelayEnd::kClientClosed;
    sizer.used(n);
  }
}

asio::awaitable<RelayEnd> server_to_client(net::TlsStream& upstream, tunnel::MuxStream& client,
                                           std::string pending, internal::SessionDeadline& deadline) {
  FrameTracker frames;
  if (!pending.empty()) {
    frames.feed(pending);
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(pending), net::without_cancellation());
    if (ec) co_return RelayEnd::kClientClosed;
  }
  std::string().swap(pending);  // the login's read buffer, held for the whole session otherwise
  ReadBuffer buffer(kIdleReadSize, kServerChunk);
  internal::DeadlineReason ending = internal::DeadlineReason::kNone;
  while (true) {
    size_t want = buffer.size();
    boost::system::error_code ec;
    size_t n = 0;
    if (ending == internal::DeadlineReason::kNone) {
      auto read = co_await internal::read_or_deadline(upstream, buffer, want, deadline);
      if (read.ending != internal::DeadlineReason::kNone) {
        ending = read.ending;
        continue;
      }
      ec = read.ec;
      n = read.n;
    } else {
      // Finish the message in flight, then stop: never cut one in half.
      if (frames.at_boundary())
        co_return ending == internal::DeadlineReason::kShutdown ? RelayEnd::kShutdown
                                                                : RelayEnd::kCertificateExpired;
      want = std::min(want, frames.bytes_to_boundary());
      std::tie(ec, n) =
          co_await upstream.async_read_some(asio::buffer(buffer.data(), want), net::without_cancellation());
    }
    if (ec) co_return RelayEnd::kServerClosed;
    frames.feed(std::string_view(buffer.data(), n));
    if (frames.corrupt()) co_return RelayEnd::kServerProtocolError;
    auto [wec, wn] =
        co_await asio::async_write(client, asio::buffer(buffer.data(), n), net::without_cancellation());
    if (wec) co_return RelayEnd::kClientClosed;
    buffer.used(n);
  }
}

}  // namespace

asio::awaitable<RelayEnd> relay(ClientConn& client, net::TlsStream& upstream, std::string upstream_pending,
                                internal::SessionDeadline& deadline, QueryAuditor& auditor) {
  // The direction that ends first cancels what the other has pending on both sockets: their reads,
  // waits and writes take no cancellation slot (net/relay_ops.h).
  bool stopped = false;
  auto stop_both = [&client, &upstream] { net::cancel_pending(client.stream, upstream); };
  co_return co_await net::first_to_end(
      client_to_server(client, upstream, auditor, stopped),
      server_to_client(upstream, client.stream, std::move(upstream_pending), deadline), stopped, stop_both);
}

}  // namespace tp::db::pg_internal
