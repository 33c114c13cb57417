// TlsStream over real loopback sockets and real handshakes: data both ways at once through full
// socket buffers, several records per read and per write, the three ways a connection ends (close_notify, a
// bare TCP close, a write to a peer that left), a cancelled read that leaves the stream usable, the
// server-name check, moving to another event loop, waiting for readability, and what a connection waiting for
// data holds.
#include "net/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <vector>

#include "net/server.h"
#include "net/tls.h"
#include "unit/common/heap.h"
#include "unit/tunnel/test_pki.h"

namespace tp::net {
namespace {

using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return s;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  TlsStreamTest() {
    auto cert = pki_.host_cert("server", kHostRoleProxy);
    server_ctx_ = std::make_unique<ssl::context>(must(make_server_context({cert.cert_pem, cert.key_pem, {}, false, {}})));
    client_ctx_ = std::make_unique<ssl::context>(
        must(make_client_context({{}, {}, {pki_.host_ca.cert_pem}, false, "localhost", {}})));
  }

  template <class T>
  static T must(Result<T> r) {
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::move(*r);
  }

  // A connected, not yet handshaken pair: {client, server}.
  std::pair<TlsStream, TlsStream> pair(ssl::context& client_ctx) {
    tcp::acceptor acceptor = must(listen_tcp(io_, {"127.0.0.1", 0}));
    tcp::socket client(io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    return {TlsStream(std::move(client), client_ctx), TlsStream(std::move(server), *server_ctx_)};
  }

  // Handshakes both ends; the client's error, if any.
  asio::awaitable<boost::system::error_code> handshake(TlsStream& client, TlsStream& server, const std::string& name) {
    EXPECT_TRUE(expect_server_name(client.native_handle(), name, true).ok());
    auto side = [](TlsStream& stream, ssl::stream_base::handshake_type type) -> asio::awaitable<boost::system::error_code> {
      auto [ec] = co_await stream.async_handshake(type, kTuple);
      co_return ec;
    };
    auto [client_ec, server_ec] = co_await (side(client, ssl::stream_base::client) && side(server, ssl::stream_base::server));
    co_return client_ec;
  }

  // Runs `test` to completion on this thread.
  void run(asio::awaitable<void> test) {
    bool done = false;
    asio::co_spawn(io_, std::move(test), [&done](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    io_.run();
    EXPECT_TRUE(done);
  }

  asio::io_context io_;
  testing::TestPki pki_;
  std::unique_ptr<ssl::context> server_ctx_;
  std::unique_ptr<ssl::context> client_ctx_;
};

asio::awaitable<void> echo(TlsStream& stream) {
  std::string buffer(16 * 1024, '\0');
  while (true) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(buffer), kTuple);
    if (n > 0) {
      auto [wec, written] = co_await asio::async_write(stream, asio::buffer(buffer.data(), n), kTuple);
      if (wec) co_return;
    }
    if (rec) co_return;
  }
}

TEST_F(TlsStreamTest, CarriesDataBothWaysAtOnceThroughFullSocketBuffers) {
  auto [client, server] = pair(*client_ctx_);
  const std::string sent = pattern(8 * 1024 * 1024);  // far more than the socket buffers hold
  std::string received;
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    auto send = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(sent), kTuple);
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, sent.size());
    };
    auto receive = [&]() -> asio::awaitable<void> {
      received.resize(sent.size());
      auto [ec, n] = co_await asio::async_read(client, asio::buffer(received), kTuple);
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, sent.size());
    };
    // The echo writes back while the client still writes: both ends have a read and a write waiting.
    auto client_side = [&]() -> asio::awaitable<void> { co_await (send() && receive()); };
    co_await (client_side() || echo(server));
  }());
  EXPECT_TRUE(received == sent);
}

TEST_F(TlsStreamTest, ClosedPolitelyTheReaderSeesEofAndBothShutdownsFinish) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    auto server_side = [&]() -> asio::awaitable<boost::system::error_code> {
      auto [ec] = co_await server.async_shutdown(kTuple);
      co_return ec;
    };
    auto client_side = [&]() -> asio::awaitable<boost::system::error_code> {
      char byte;
      auto [rec, n] = co_await client.async_read_some(asio::buffer(&byte, 1), kTuple);
      EXPECT_EQ(rec, asio::error::eof) << rec.message();
      EXPECT_EQ(n, 0u);
      auto [ec] = co_await client.async_shutdown(kTuple);
      co_return ec;
    };
    auto [server_ec, client_ec] = co_await (server_side() && client_side());
    EXPECT_FALSE(server_ec) << server_ec.message();
    EXPECT_FALSE(client_ec) << client_ec.message();
  }());
}

TEST_F(TlsStreamTest, APeerThatVanishesIsAnErrorNotAHangOrASignal) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    server.next_layer().close();  // no close_notify
    char byte;
    auto [rec, n] = co_await client.async_read_some(asio::buffer(&byte, 1), kTuple);
    EXPECT_EQ(rec, ssl::error::stream_truncated) << rec.message();
    // Writing on: the first writes may still fit the kernel's buffer; then the reset shows. Without
    // MSG_NOSIGNAL the process would die of SIGPIPE here.
    const std::string chunk(64 * 1024, 'x');
    boost::system::error_code wec;
    for (int i = 0; i < 100 && !wec; ++i) std::tie(wec, n) = co_await asio::async_write(client, asio::buffer(chunk), kTuple);
    EXPECT_TRUE(wec);
  }());
}

TEST_F(TlsStreamTest, ACancelledReadLeavesTheStreamUsable) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    char byte = 0;
    asio::steady_timer timer(io_, 20ms);
    auto outcome = co_await (client.async_read_some(asio::buffer(&byte, 1), kTuple) || timer.async_wait(kTuple));
    EXPECT_EQ(outcome.index(), 1u);  // nothing was sent: the timer won
    auto [wec, written] = co_await asio::async_write(server, asio::buffer(std::string("z")), kTuple);
    EXPECT_FALSE(wec);
    auto [rec, n] = co_await client.async_read_some(asio::buffer(&byte, 1), kTuple);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(byte, 'z');
  }());
}

TEST_F(TlsStreamTest, TheServerMustBeWhoTheClientAskedFor) {
  for (const std::string name : {"localhost", "127.0.0.1", "server"}) {
    auto [client, server] = pair(*client_ctx_);
    run([&]() -> asio::awaitable<void> { EXPECT_FALSE(co_await handshake(client, server, name)) << name; }());
    io_.restart();
  }
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    auto ec = co_await handshake(client, server, "db.example.com");
    EXPECT_EQ(ec.category(), asio::error::get_ssl_category());
    EXPECT_NE(ec.message().find("certificate verify failed"), std::string::npos) << ec.message();
  }());
}

TEST_F(TlsStreamTest, AnUntrustedServerFailsTheHandshakeWithTheReason) {
  testing::TestPki other;
  auto untrusting = must(make_client_context({{}, {}, {other.host_ca.cert_pem}, false, "localhost", {}}));
  auto [client, server] = pair(untrusting);
  run([&]() -> asio::awaitable<void> {
    auto ec = co_await handshake(client, server, "localhost");
    EXPECT_NE(ec.message().find("certificate verify failed"), std::string::npos) << ec.message();
  }());
}

// A server whose trust store holds its own issuer would otherwise rebuild and re-verify its
// chain in every handshake (and send the CA along): it sends the leaf it was given.
TEST_F(TlsStreamTest, TheServerSendsItsChainAsGivenWithoutRebuildingIt) {
  auto cert = pki_.host_cert("server", kHostRoleProxy);
  server_ctx_ = std::make_unique<ssl::context>(
      must(make_server_context({cert.cert_pem, cert.key_pem, {pki_.host_ca.cert_pem}, false, {}})));
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> { EXPECT_FALSE(co_await handshake(client, server, "localhost")); }());
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.native_handle());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 1);
}

// libpq and the mariadb client offer AES-256-GCM first (OpenSSL's default order); our servers
// pick AES-128-GCM, the cheaper of the two for every byte of the session.
TEST_F(TlsStreamTest, OurServersPickAes128EvenWhenTheClientPrefersAes256) {
  ssl::context aes256_first(ssl::context::tls_client);
  SSL_CTX_set_ciphersuites(aes256_first.native_handle(), "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
  aes256_first.set_verify_mode(ssl::verify_none);
  for (ssl::context* ctx : {&aes256_first, client_ctx_.get()}) {
    auto [client, server] = pair(*ctx);
    run([&]() -> asio::awaitable<void> { EXPECT_FALSE(co_await handshake(client, server, "localhost")); }());
    EXPECT_STREQ(SSL_get_cipher_name(client.native_handle()), "TLS_AES_128_GCM_SHA256");
    EXPECT_STREQ(SSL_get_version(client.native_handle()), "TLSv1.3");
    io_.restart();
  }
}

// The agent and the proxy hand a session's connection to another event loop (rebind).
TEST_F(TlsStreamTest, RebindMovesTheConnectionToAnotherLoopWithItsTlsState) {
  asio::io_context other;  // outlives the connection it will serve
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> { EXPECT_FALSE(co_await handshake(client, server, "localhost")); }());
  boost::system::error_code ec;
  client.rebind(other.get_executor(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::string ping = "ping";
  std::string got(4, '\0');
  bool read = false;
  asio::async_read(client, asio::buffer(got), [&](boost::system::error_code rec, size_t) { read = !rec; });
  io_.restart();
  run([&]() -> asio::awaitable<void> {
    auto [wec, n] = co_await asio::async_write(server, asio::buffer(ping), kTuple);
    EXPECT_FALSE(wec);
  }());
  EXPECT_FALSE(read) << "the old loop no longer serves the connection";
  other.run_for(2s);
  EXPECT_TRUE(read);
  EXPECT_EQ(got, "ping");
}

// A move that fails (here: no descriptor left for the copy) leaves the connection where it was.
TEST_F(TlsStreamTest, ARebindThatFailsLeavesTheConnectionOnItsLoopAndUsable) {
  asio::io_context other;
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> { EXPECT_FALSE(co_await handshake(client, server, "localhost")); }());
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  rlimit none = limit;
  none.rlim_cur = 0;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
  boost::system::error_code ec;
  client.rebind(other.get_executor(), ec);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_TRUE(ec) << "no descriptor may be allocated under a limit of 0";
  io_.restart();
  run([&]() -> asio::awaitable<void> {
    const std::string ping = "ping";
    auto [wec, n] = co_await asio::async_write(server, asio::buffer(ping), kTuple);
    EXPECT_FALSE(wec);
    std::string got(4, '\0');
    auto [rec, m] = co_await asio::async_read(client, asio::buffer(got), kTuple);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(got, "ping");
  }());
}

// A relay waits for readability before it reads. Bytes OpenSSL already took off the socket (the
// rest of a record a smaller read left, or records read ahead) must count: the socket may never
// become readable again for them.
TEST_F(TlsStreamTest, WaitReadableSeesBytesOpenSslHoldsAndOtherwiseWaitsForTheSocket) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    asio::steady_timer timer(io_, 50ms);
    auto quiet = co_await (client.async_wait_readable(kTuple) || timer.async_wait(kTuple));
    EXPECT_EQ(quiet.index(), 1u) << "nothing was sent: the timer wins";

    const std::string hello = "hello world";
    auto [wec, written] = co_await asio::async_write(server, asio::buffer(hello), kTuple);
    EXPECT_FALSE(wec);
    auto [ready] = co_await client.async_wait_readable(kTuple);  // the record arrives
    EXPECT_FALSE(ready) << ready.message();
    char first = 0;
    auto [rec, n] = co_await client.async_read_some(asio::buffer(&first, 1), kTuple);
    EXPECT_FALSE(rec);
    EXPECT_EQ(first, 'h');

    timer.expires_after(2s);  // the other ten bytes are in OpenSSL, not in the socket
    auto held = co_await (client.async_wait_readable(kTuple) || timer.async_wait(kTuple));
    EXPECT_EQ(held.index(), 0u) << "waited for a socket that had nothing more to give";
    std::string rest(10, '\0');
    std::tie(rec, n) = co_await asio::async_read(client, asio::buffer(rest), kTuple);
    EXPECT_EQ(rest, "ello world");

    server.next_layer().close();  // the peer's close makes the socket readable too
    auto [closed] = co_await client.async_wait_readable(kTuple);
    EXPECT_FALSE(closed);
    std::tie(rec, n) = co_await client.async_read_some(asio::buffer(&first, 1), kTuple);
    EXPECT_TRUE(rec);
  }());
}

// A server that sends its last words and hangs up (PostgreSQL after pg_terminate_backend): the
// record and the close can arrive together, before the reader looks. A read then returns the record,
// short of its buffer, and the close gives no new event: the wait after it must still see the close,
// or the session hangs until the client speaks.
TEST_F(TlsStreamTest, TheCloseThatArrivedWithTheLastRecordCompletesTheNextWait) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    const std::string last_words = "terminating connection";
    auto [wec, written] = co_await asio::async_write(server, asio::buffer(last_words), kTuple);
    EXPECT_FALSE(wec);
    server.next_layer().close();
    asio::steady_timer timer(io_, 100ms);  // both the record and the close are in the socket now
    co_await timer.async_wait(kTuple);

    auto [ready] = co_await client.async_wait_readable(kTuple);
    EXPECT_FALSE(ready) << ready.message();
    std::string got(1024, '\0');
    auto [rec, n] = co_await client.async_read_some(asio::buffer(got), kTuple);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(got.substr(0, n), last_words);

    timer.expires_after(2s);
    auto closed = co_await (client.async_wait_readable(kTuple) || timer.async_wait(kTuple));
    EXPECT_EQ(closed.index(), 0u) << "the wait missed the close that came with the record";
    std::tie(rec, n) = co_await client.async_read_some(asio::buffer(got), kTuple);
    EXPECT_TRUE(rec) << "the read after the close is its end";
  }());
}

// A bulk transfer moves several records per operation: a read takes every record that arrived
// with the first (up to its buffer), a write sends its whole buffer as as many records as it takes.
TEST_F(TlsStreamTest, AReadTakesEveryRecordAlreadyReceived) {
  auto [client, server] = pair(*client_ctx_);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    const std::string record = pattern(1000);
    for (int i = 0; i < 3; ++i) {  // three writes, three records
      auto [wec, written] = co_await asio::async_write(server, asio::buffer(record), kTuple);
      EXPECT_FALSE(wec) << wec.message();
    }
    // Wait until all three are in the client's socket (each is 1000 bytes + 22 of TLS 1.3).
    asio::steady_timer timer(io_);
    for (int i = 0; i < 200 && client.next_layer().available() < 3 * 1022; ++i) {
      timer.expires_after(5ms);
      co_await timer.async_wait(kTuple);
    }
    EXPECT_GE(client.next_layer().available(), 3u * 1022);
    std::string got(8 * 1024, '\0');
    auto [rec, n] = co_await client.async_read_some(asio::buffer(got), kTuple);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(n, 3000u) << "one read, three records";
    got.resize(n);
    EXPECT_TRUE(got == record + record + record);

    // A buffer smaller than what arrived takes what fits; the rest is there for the next read.
    for (int i = 0; i < 2; ++i) {
      auto [wec, written] = co_await asio::async_write(server, asio::buffer(record), kTuple);
      EXPECT_FALSE(wec);
    }
    std::string part(1500, '\0');
    std::tie(rec, n) = co_await asio::async_read(client, asio::buffer(part), kTuple);
    EXPECT_EQ(n, 1500u);
    std::string rest(500, '\0');
    std::tie(rec, n) = co_await asio::async_read(client, asio::buffer(rest), kTuple);
    EXPECT_EQ(n, 500u);
    EXPECT_TRUE(part + rest == record + record);
  }());
}

TEST_F(TlsStreamTest, AWriteSendsItsWholeBufferAsOneOperation) {
  auto [client, server] = pair(*client_ctx_);
  const std::string sent = pattern(100 * 1024);  // seven records
  std::string received(sent.size(), '\0');
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    auto send = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await client.async_write_some(asio::buffer(sent), kTuple);
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, sent.size());
    };
    auto receive = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await asio::async_read(server, asio::buffer(received), kTuple);
      EXPECT_FALSE(ec) << ec.message();
    };
    co_await (send() && receive());
  }());
  EXPECT_TRUE(received == sent);
}

// try_read_some / try_write_some (the proxy's relay moves bytes with them while neither would wait):
// would_block where the asynchronous operation would wait; a write the socket cannot take whole
// stops at a record boundary, and async_write_some from there sends the rest in order.
TEST_F(TlsStreamTest, TryOperationsNeverWaitAndAWriteCutShortGoesOnAsynchronously) {
  auto [client, server] = pair(*client_ctx_);
  const std::string sent = pattern(16 * 1024 * 1024);  // far more than the socket buffers hold
  std::string received(sent.size(), '\0');
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    std::string buffer(4096, '\0');
    boost::system::error_code ec;
    EXPECT_EQ(server.try_read_some(asio::buffer(buffer), ec), 0u);  // nothing sent yet
    EXPECT_EQ(ec, asio::error::would_block);

    EXPECT_EQ(client.try_write_some(asio::buffer(sent.data(), 5), ec), 5u);
    EXPECT_FALSE(ec) << ec.message();
    auto [wait_ec] = co_await server.async_wait_readable(kTuple);
    EXPECT_FALSE(wait_ec);
    EXPECT_EQ(server.try_read_some(asio::buffer(buffer), ec), 5u);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(buffer.substr(0, 5), sent.substr(0, 5));

    // Nobody reads yet: the socket buffers fill and the write stops short.
    size_t done = client.try_write_some(asio::buffer(sent.data() + 5, sent.size() - 5), ec);
    EXPECT_EQ(ec, asio::error::would_block);
    EXPECT_GT(done, 0u);
    EXPECT_LT(done, sent.size() - 5);
    auto rest = [&]() -> asio::awaitable<void> {
      const size_t from = 5 + done;
      auto [wec, n] = co_await client.async_write_some(asio::buffer(sent.data() + from, sent.size() - from), kTuple);
      EXPECT_FALSE(wec) << wec.message();
      EXPECT_EQ(n, sent.size() - from);
    };
    auto receive = [&]() -> asio::awaitable<void> {
      std::copy(sent.begin(), sent.begin() + 5, received.begin());
      auto [rec, n] = co_await asio::async_read(server, asio::buffer(received.data() + 5, sent.size() - 5), kTuple);
      EXPECT_FALSE(rec) << rec.message();
    };
    co_await (rest() && receive());

    client.lowest_layer().close();
    co_await server.async_wait_readable(kTuple);
    EXPECT_EQ(server.try_read_some(asio::buffer(buffer), ec), 0u);  // the peer left: an error, not would_block
    EXPECT_TRUE(ec);
    EXPECT_NE(ec, asio::error::would_block);
  }());
  EXPECT_TRUE(received == sent);
}

// OpenSSL's error queue is per thread, and other code on an event loop (a certificate that does not
// parse, a key in the wrong format) may leave errors on it. A read or write must not take them for
// its own.
TEST_F(TlsStreamTest, ErrorsLeftOnTheThreadByOtherCodeDoNotFailTheNextOperation) {
  auto [client, server] = pair(*client_ctx_);
  const std::string sent = pattern(40 * 1024);
  std::string received(sent.size(), '\0');
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await handshake(client, server, "localhost"));
    ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
    auto [wec, n] = co_await asio::async_write(client, asio::buffer(sent), kTuple);
    EXPECT_FALSE(wec) << wec.message();
    ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
    auto [rec, m] = co_await asio::async_read(server, asio::buffer(received), kTuple);
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(ERR_peek_error(), 0ul);
  }());
  EXPECT_TRUE(received == sent);
}

using testing::heap_in_use;

// A proxy holds thousands of idle sessions, each with a read waiting on every TLS connection. OpenSSL
// sets up a ~17 KiB record buffer for every read and write; one waiting for data must not keep them
// (SSL_MODE_RELEASE_BUFFERS, net/tls.h).
TEST_F(TlsStreamTest, AConnectionWaitingForDataHoldsNoRecordBuffers) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator does not report heap use through mallinfo2";
#endif
  constexpr int kConnections = 32;
  std::vector<std::unique_ptr<TlsStream>> clients;
  std::vector<std::unique_ptr<TlsStream>> servers;
  const long before = heap_in_use();
  for (int i = 0; i < kConnections; ++i) {
    auto [client, server] = pair(*client_ctx_);
    clients.push_back(std::make_unique<TlsStream>(std::move(client)));
    servers.push_back(std::make_unique<TlsStream>(std::move(server)));
    run([&]() -> asio::awaitable<void> {
      EXPECT_FALSE(co_await handshake(*clients.back(), *servers.back(), "localhost"));
      const std::string x = "x";
      auto [wec, written] = co_await asio::async_write(*servers.back(), asio::buffer(x), kTuple);
      EXPECT_FALSE(wec) << wec.message();
      char byte = 0;
      auto [rec, n] = co_await clients.back()->async_read_some(asio::buffer(&byte, 1), kTuple);
      EXPECT_FALSE(rec) << rec.message();
    }());
    io_.restart();
  }
  std::vector<char> bytes(kConnections, 0);
  int done = 0;
  for (int i = 0; i < kConnections; ++i)
    clients[i]->async_read_some(asio::buffer(&bytes[i], 1), [&done](boost::system::error_code ec, size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, 1u);
      ++done;
    });
  io_.poll();  // every read has asked OpenSSL, found nothing and now waits for its socket
  const long waiting = heap_in_use();
  EXPECT_EQ(done, 0);
  // Both ends' TLS state (the SSL objects, keys and the peer's certificate) is ~35 KiB a pair with
  // OpenSSL 3.0; holding record buffers while waiting took ~100 KiB.
  EXPECT_LT((waiting - before) / kConnections, 48 * 1024) << "bytes held per connection, both ends";
  const std::string y = "y";
  for (auto& server : servers)
    asio::async_write(*server, asio::buffer(y), [](boost::system::error_code, size_t) {});
  io_.restart();
  while (done < kConnections && io_.run_one() > 0) {
  }
  EXPECT_EQ(done, kConnections);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), std::string(kConnections, 'y'));
}

}  // namespace
}  // namespace tp::net
