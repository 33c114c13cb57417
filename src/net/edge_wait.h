// Waiting for a socket to become readable or writable without an epoll_ctl each time.
//
// Asio's epoll reactor registers a socket once, edge-triggered. Its reads and writes first try the
// system call and join the descriptor's queue only when it would block, so they need no epoll_ctl.
// socket::async_wait cannot know whether the socket is ready already, so it re-arms the
// registration with epoll_ctl(EPOLL_CTL_MOD) on every wait: the kernel then polls the socket and
// reports it at once if it is. TlsStream waits before almost every TLS record (OpenSSL reads and
// writes the socket itself, and a relay waits for data before it takes a read buffer), so that was
// two epoll_ctl calls per query in each proxying process, ~5 % of their CPU (bench/profile select).
//
// async_wait_edge queues a wait that completes at the reactor's next event for the socket, with no
// system call, when the caller knows the socket was exhausted after its last event: a recv or send
// ended with EAGAIN. A socket that may be ready already
// (`exhausted` false) is polled first. The reactor only lets the wait join the queue without a
// check when no event went unclaimed since the last wait; otherwise the wait polls, so an event
// the reactor saw while nothing waited is never lost.
//
// This uses Asio's reactor interface (boost/asio/detail), written against Boost 1.81's epoll
// reactor; with any other Boost or reactor it falls back to socket::async_wait.
// Asio heavy: include only from .cc files.
#pragma once

#include <poll.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_socket.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <boost/version.hpp>
#include <utility>

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define TP_NET_EDGE_WAIT 1
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#else
#define TP_NET_EDGE_WAIT 0
#endif

namespace tp::net {

enum class Readiness { kRead, kWrite };

#if TP_NET_EDGE_WAIT
namespace edge_internal {

namespace detail = boost::asio::detail;

// The operation the reactor starts (from async_wait_edge, with the thread's `starting` set to it)
// or performs at an event for the socket. Started, it checks with poll(2), because the reactor
// only asks when an event went unclaimed; performed at an event, it is done without a system call.
// Either way "exhausted": the reactor then lets the next wait join the queue without asking, which
// the caller's own reads and writes make true (they go on until one would block, or they say so).
inline thread_local const void* starting = nullptr;

template <class Handler, class IoExecutor>
class WaitOp : public detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(WaitOp);

  WaitOp(int fd, short events, Handler& handler, const IoExecutor& io_ex)
      : detail::reactor_op(boost::system::error_code(), &WaitOp::do_perform, &WaitOp::do_complete),
        fd_(fd),
        events_(events),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(detail::reactor_op* base) {
    auto* op = static_cast<WaitOp*>(base);
    if (starting != op) return done_and_exhausted;
    return op->ready() ? done_and_exhausted : not_done;
  }

  bool ready() const {
    pollfd p{fd_, events_, 0};
    return ::poll(&p, 1, 0) > 0;  // POLLERR and POLLHUP count: the next call reports them
  }

  // As Asio's reactive_wait_op: free the operation, then call the handler.
  static void do_complete(void* owner, detail::operation* base, const boost::system::error_code&,
                          std::size_t) {
    auto* op = static_cast<WaitOp*>(base);
    ptr p = {std::addressof(op->handler_), op, op};
    detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
    detail::binder1<Handler, boost::system::error_code> handler(op->handler_, op->ec_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) {
      detail::fenced_block b(detail::fenced_block::half);
      work.complete(handler, handler.handler_);
    }
  }

 private:
  int fd_;
  short events_;
  Handler handler_;
  detail::handler_work<Handler, IoExecutor> work_;
};

using Socket = boost::asio::basic_socket<boost::asio::ip::tcp, boost::asio::any_io_executor>;

// basic_socket keeps its implementation (descriptor, state, reactor registration) protected.
struct SocketAccess : Socket {
  static auto& of(Socket& socket) { return (socket.*(&SocketAccess::impl_)).get_implementation(); }
};

// Per-operation cancellation, as Asio's socket operations have it.
struct Cancellation {
  detail::reactor* reactor;
  detail::reactor::per_descriptor_data* data;
  int fd;
  int op_type;

  void operator()(boost::asio::cancellation_type_t type) {
    using boost::asio::cancellation_type;
    if (!!(type & (cancellation_type::terminal | cancellation_type::partial | cancellation_type::total)))
      reactor->cancel_ops_by_key(fd, *data, op_type, this);
  }
};

struct Initiate {
  template <class Handler>
  void operator()(Handler&& handler, Socket* socket, Readiness readiness, bool exhausted) const {
    using Op = WaitOp<std::decay_t<Handler>, Socket::executor_type>;
    auto& impl = SocketAccess::of(*socket);
    auto& reactor = boost::asio::use_service<detail::reactor>(
        boost::asio::query(socket->get_executor(), boost::asio::execution::context));
    const bool continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    const int op_type = readiness == Readiness::kRead ? detail::reactor::read_op : detail::reactor::write_op;
    const short events = readiness == Readiness::kRead ? POLLIN : POLLOUT;

    typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) Op(impl.socket_, events, handler, socket->get_executor());
    Op* op = p.p;
    p.v = p.p = nullptr;

    if (!exhausted && impl.socket_ != detail::invalid_socket && op->ready()) {
      reactor.post_immediate_completion(op, continuation);
      return;
    }
    if (slot.is_connected())
      op->cancellation_key_ =
          &slot.template emplace<Cancellation>(&reactor, &impl.reactor_data_, impl.socket_, op_type);
    if (!(impl.state_ & detail::socket_ops::non_blocking) &&
        !detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, op->ec_)) {
      reactor.post_immediate_completion(op, continuation);
      return;
    }
    starting = op;
    reactor.start_op(op_type, impl.socket_, impl.reactor_data_, op, continuation, true);
    starting = nullptr;
  }
};

}  // namespace edge_internal
#endif

// Completes once `socket` is ready to read or to write, or has an error or was closed by the peer.
// `exhausted`: the caller's last recv (or send) on it ended with EAGAIN, and nothing completed a
// wait since. Otherwise the socket is polled first. (A recv that returned less than it asked for is
// not enough: the peer's close may have come with the data, and leaves no event for the wait.)
// Cancellable as socket::async_wait; cancel() on the socket ends it with operation_aborted.
template <class Token>
auto async_wait_edge(boost::asio::basic_socket<boost::asio::ip::tcp, boost::asio::any_io_executor>& socket,
                     Readiness readiness, bool exhausted, Token&& token) {
#if TP_NET_EDGE_WAIT
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(edge_internal::Initiate{}, token,
                                                                             &socket, readiness, exhausted);
#else
  (void)exhausted;
  return socket.async_wait(readiness == Readiness::kRead ? boost::asio::socket_base::wait_read
                                                         : boost::asio::socket_base::wait_write,
                           std::forward<Token>(token));
#endif
}

}  // namespace tp::net
