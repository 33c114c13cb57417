#include "common/result.h"

namespace tp {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kAccessDenied: return "access_denied";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kExpired: return "expired";
    case ErrorCode::kLimitExceeded: return "limit_exceeded";
    case ErrorCode::kCompareFailed: return "compare_failed";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace tp
