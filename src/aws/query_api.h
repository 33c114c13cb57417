// The AWS Query protocol shared by STS, RDS and IAM: a SigV4-signed form POST
// ("Action=...&Version=...&..."), an XML answer, and XML errors of the shape
// <ErrorResponse><Error><Code>..</Code><Message>..</Message></Error><RequestId/></ErrorResponse>.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "aws/env.h"
#include "aws/http_transport.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "common/clock.h"
#include "common/result.h"

namespace tp::aws {

// What every AWS API call needs besides credentials. Referenced objects must outlive the calls.
struct ApiContext {
  HttpTransport& transport;
  const Env& env;
  const Clock& clock;
  std::chrono::milliseconds timeout{10000};
};

struct QueryRequest {
  std::string service;  // endpoint prefix and signing name: "sts", "rds", "iam"
  std::string region;   // empty for global IAM / STS
  std::string version;  // API version, e.g. "2011-06-15"
  std::string action;   // e.g. "AssumeRole"
  QueryParams params;   // in addition to Action and Version
};

// An error answer from the AWS API, kept verbatim.
struct ApiError {
  int http_status = 0;
  std::string code;     // "AccessDenied", "DBInstanceNotFound", ...
  std::string message;  // AWS's own text
  std::string request_id;
};

struct QueryResponse {
  xml::Element root;              // the whole response document on success
  std::optional<ApiError> error;  // set on a non-2xx answer
};

// Builds the signed HTTP request (exposed for tests). creds == nullptr sends it unsigned, as
// AssumeRoleWithWebIdentity requires.
Result<HttpRequest> build_query_request(const ApiContext& ctx, const Credentials* creds,
                                        const QueryRequest& req);

// Transport failures are errors; AWS errors come back in QueryResponse::error.
Result<QueryResponse> send_query(const ApiContext& ctx, const Credentials* creds, const QueryRequest& req);

// "rds DescribeDBInstances: DBInstanceNotFound: DBInstance mydb not found." with an ErrorCode
// that fits the AWS code (AccessDenied -> kAccessDenied, *NotFound* -> kNotFound, ...).
Error to_error(const QueryRequest& req, const ApiError& error);

// send_query, with an AWS error turned into an Error.
Result<xml::Element> call_query_api(const ApiContext& ctx, const Credentials* creds, const QueryRequest& req);

// Parses an AWS error document; nullopt when the body is not one.
std::optional<ApiError> parse_api_error(int http_status, std::string_view body);

}  // namespace tp::aws
