// Result<T>: the value or the error of an operation that can fail because of
// input, state or the network. Exceptions are for programmer errors only.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tp {

enum class ErrorCode {
  kInvalidArgument,  // the caller's input is wrong
  kNotFound,
  kAlreadyExists,
  kAccessDenied,     // authenticated, but not allowed
  kUnauthenticated,  // identity missing or not proven
  kExpired,
  kLimitExceeded,    // e.g. too many failed logins
  kCompareFailed,    // compare-and-swap lost the race
  kUnavailable,      // a peer or service cannot be reached
  kInternal,
};

const char* error_code_name(ErrorCode code);

// An error says what failed and, where useful, what to do about it.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // Prefixes context: "loading config: " + message.
  Error wrap(const std::string& context) const { return Error{code, context + ": " + message}; }
};

inline Error invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Error not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Error already_exists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
inline Error access_denied(std::string m) { return {ErrorCode::kAccessDenied, std::move(m)}; }
inline Error unauthenticated(std::string m) { return {ErrorCode::kUnauthenticated, std::move(m)}; }
inline Error expired(std::string m) { return {ErrorCode::kExpired, std::move(m)}; }
inline Error limit_exceeded(std::string m) { return {ErrorCode::kLimitExceeded, std::move(m)}; }
inline Error compare_failed(std::string m) { return {ErrorCode::kCompareFailed, std::move(m)}; }
inline Error unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Error internal_error(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace tp

// TP_TRY(var, expr): evaluates a Result; returns its error from the enclosing
// function, or binds the value to `var`.
#define TP_CONCAT_INNER(a, b) a##b
#define TP_CONCAT(a, b) TP_CONCAT_INNER(a, b)
#define TP_TRY(var, expr)                                              \
  auto TP_CONCAT(tp_result_, __LINE__) = (expr);                       \
  if (!TP_CONCAT(tp_result_, __LINE__).ok())                           \
    return TP_CONCAT(tp_result_, __LINE__).error();                    \
  var = std::move(TP_CONCAT(tp_result_, __LINE__)).value()
// TP_CHECK(expr): for Status-returning expressions.
#define TP_CHECK(expr)                                   \
  do {                                                   \
    auto tp_status_ = (expr);                            \
    if (!tp_status_.ok()) return tp_status_.error();     \
  } while (0)
