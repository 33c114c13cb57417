#include "net/tls_stream.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <cstdint>
#include <new>

namespace tp::net::tls_io {
namespace {

// A BIO over a non-blocking socket. Unlike BIO_s_socket it writes with MSG_NOSIGNAL: a peer that
// went away must be an error, not a SIGPIPE that kills the process. Its data is the descriptor,
// shifted left, and in the low bit whether the socket was drained (drained()).
int socket_of(BIO* bio) {
  return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)) >> 1);
}
bool drained_bit(BIO* bio) {
  return (reinterpret_cast<intptr_t>(BIO_get_data(bio)) & 1) != 0;
}
void set_data(BIO* bio, int fd, bool drained) {
  BIO_set_data(bio, reinterpret_cast<void*>((static_cast<intptr_t>(fd) << 1) | (drained ? 1 : 0)));
}

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  while (true) {
    ssize_t n = ::send(socket_of(bio), data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  while (true) {
    const int fd = socket_of(bio);
    ssize_t n = ::recv(fd, data, static_cast<size_t>(size), 0);
    if (n >= 0) {
      // Only EAGAIN says the socket is empty. A short read does not: the peer's close may have
      // arrived with the data, and it brings no event of its own after this read.
      set_data(bio, fd, false);
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      set_data(bio, fd, true);
      BIO_set_retry_read(bio);
    }
    return -1;
  }
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "tp socket");
    if (!m) throw std::bad_alloc();
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// Turns the outcome of one SSL_* call into a Step. errno is read first: the error queue calls
// below may change it.
Step outcome(SSL* ssl, int ret, size_t bytes) {
  const int saved_errno = errno;
  if (ret > 0) return Step{Step::kDone, bytes, {}};
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      return Step{Step::kRead, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return Step{Step::kWrite, 0, {}};
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      return Step{Step::kDone, 0, boost::asio::error::eof};
    case SSL_ERROR_SYSCALL:
      if (unsigned long e = ERR_get_error())
        return Step{Step::kDone, 0, {static_cast<int>(e), boost::asio::error::get_ssl_category()}};
      if (saved_errno != 0 && ret < 0)
        return Step{Step::kDone, 0, {saved_errno, boost::system::system_category()}};
      return Step{Step::kDone, 0, boost::asio::ssl::error::stream_truncated};
    default: {
      unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return Step{Step::kDone, 0, boost::asio::ssl::error::stream_truncated};
      if (e == 0) return Step{Step::kDone, 0, boost::asio::error::fault};
      return Step{Step::kDone, 0, {static_cast<int>(e), boost::asio::error::get_ssl_category()}};
    }
  }
}

}  // namespace

SSL* new_ssl(SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) throw std::bad_alloc();
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read whole socket buffers, not a 5-byte header and then the record: half the recv calls. The
  // buffer stays at OpenSSL's default, about one full record: before each record it decrypts,
  // OpenSSL moves everything read ahead behind it to the front of the buffer (to align the
  // payload), so a bigger buffer costs copies that grow with the square of the records it holds.
  // With 64 KiB, these moves were 12 % of the proxy's CPU during a COPY (perf; 3 % with the
  // default). The buffer exists only while it holds bytes (SSL_MODE_RELEASE_BUFFERS, net/tls.h).
  SSL_set_read_ahead(ssl, 1);
  return ssl;
}

void attach(SSL* ssl, int fd) {
  if (BIO* current = SSL_get_rbio(ssl)) {
    if (socket_of(current) != fd) set_data(current, fd, false);
    return;
  }
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  BIO* bio = BIO_new(socket_method());
  if (!bio) throw std::bad_alloc();
  set_data(bio, fd, false);
  SSL_set_bio(ssl, bio, bio);
}

bool drained(SSL* ssl) {
  BIO* bio = SSL_get_rbio(ssl);
  return bio && drained_bit(bio);
}

void mark_readable(SSL* ssl) {
  if (BIO* bio = SSL_get_rbio(ssl)) set_data(bio, socket_of(bio), false);
}

int duplicate(int fd, boost::system::error_code& ec) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) ec.assign(errno, boost::system::system_category());
  return copy;
}

void close_descriptor(int fd) {
  if (fd >= 0) ::close(fd);
}

namespace {

// One SSL_* call, from a clean error queue (it is per thread and may hold another call's errors).
// The queue is almost always empty already: looking costs less than clearing its 16 slots, which
// was 1 % of the proxy's CPU at 9 000 queries a second.
template <class Call>
Step step(SSL* ssl, Call call) {
  if (ERR_peek_error() != 0) ERR_clear_error();
  errno = 0;
  size_t bytes = 0;
  const int ret = call(&bytes);
  return outcome(ssl, ret, bytes);
}

}  // namespace

Step handshake(SSL* ssl) {
  return step(ssl, [ssl](size_t*) { return SSL_do_handshake(ssl); });
}

Step read(SSL* ssl, void* data, size_t size) {
  if (size == 0) return Step{};
  auto* out = static_cast<char*>(data);
  Step first = step(ssl, [&](size_t* n) { return SSL_read_ex(ssl, out, size, n); });
  if (first.want != Step::kDone || first.ec) return first;
  // SSL_read_ex returns one record. Read-ahead may have brought more with it: take those too while
  // there is room, so a bulk transfer moves several records per operation. The first call that
  // would wait or fails ends the read with what it has; a failure shows again on the next read.
  size_t total = first.bytes;
  while (total < size && SSL_has_pending(ssl) == 1) {
    Step more = step(ssl, [&](size_t* n) { return SSL_read_ex(ssl, out + total, size - total, n); });
    if (more.want != Step::kDone || more.ec) break;
    total += more.bytes;
  }
  return Step{Step::kDone, total, {}};
}

Step write(SSL* ssl, const void* data, size_t size, size_t& done) {
  const auto* in = static_cast<const char*>(data);
  while (done < size) {
    // With partial writes on, SSL_write_ex sends one record per call.
    Step s = step(ssl, [&](size_t* n) { return SSL_write_ex(ssl, in + done, size - done, n); });
    if (s.want != Step::kDone) return s;  // OpenSSL holds a record that must be retried from `done`
    if (s.ec) return done > 0 ? Step{Step::kDone, done, {}} : s;  // the error shows again next time
    done += s.bytes;
  }
  return Step{Step::kDone, done, {}};
}

Step shutdown(SSL* ssl) {
  return step(ssl, [ssl](size_t*) {
    // 0: our close_notify is out; calling again waits for the peer's.
    int ret = SSL_shutdown(ssl);
    return ret == 0 ? SSL_shutdown(ssl) : ret;
  });
}

}  // namespace tp::net::tls_io
