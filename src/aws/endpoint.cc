#include "aws/endpoint.h"

#include <cctype>

#include "aws/http_transport.h"
#include "common/strings.h"

namespace tp::aws {

std::optional<std::string> find_header(const HttpHeaders& headers, std::string_view name) {
  std::string lower = to_lower(name);
  for (const auto& [n, v] : headers) {
    if (to_lower(n) == lower) return v;
  }
  return std::nullopt;
}

std::string Url::host_header() const {
  std::string h = to_lower(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

Result<Url> parse_url(std::string_view url) {
  Url out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    return invalid_argument("URL \"" + std::string(url) + "\" has no scheme");
  out.scheme = to_lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return invalid_argument("URL \"" + std::string(url) + "\": only http:// and https:// are supported");
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target.front() == '?') out.target = "/" + out.target;
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  uint16_t default_port = out.scheme == "https" ? 443 : 80;
  auto hp = parse_host_port(authority, default_port);
  if (!hp.ok()) return hp.error().wrap("URL \"" + std::string(url) + "\"");
  out.host = hp->host;
  out.port = hp->port;
  if (out.host.empty()) return invalid_argument("URL \"" + std::string(url) + "\" has no host");
  return out;
}

Result<Endpoint> resolve_endpoint(std::string_view service, std::string_view region, const Env& env) {
  std::string env_name = "AWS_ENDPOINT_URL_";
  for (char c : service) {
    env_name.push_back(c == '-' || c == ' ' ? '_'
                                            : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  bool global = service == "iam" || (service == "sts" && region.empty());
  std::string signing_region = global ? "us-east-1" : std::string(region);
  if (service == "iam" && starts_with(region, "cn-")) signing_region = "cn-north-1";

  for (const std::string& name : {env_name, std::string("AWS_ENDPOINT_URL")}) {
    if (auto v = env.get(name)) {
      std::string url = trim(*v);
      while (!url.empty() && url.back() == '/') url.pop_back();
      auto parsed = parse_url(url);
      if (!parsed.ok()) return parsed.error().wrap(name);
      if (signing_region.empty()) signing_region = "us-east-1";
      return Endpoint{url, signing_region};
    }
  }
  if (region.empty() && !global) {
    return invalid_argument(
        std::string(service) +
        ": no AWS region: set the database's aws.region, AWS_REGION or AWS_DEFAULT_REGION");
  }
  std::string suffix = starts_with(region, "cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  if (service == "iam") {
    if (starts_with(region, "cn-"))
      return Endpoint{"https://iam.cn-north-1.amazonaws.com.cn", signing_region};
    return Endpoint{"https://iam.amazonaws.com", signing_region};
  }
  if (global) return Endpoint{"https://sts.amazonaws.com", signing_region};
  return Endpoint{"https://" + std::string(service) + "." + std::string(region) + "." + suffix,
                  signing_region};
}

}  // namespace tp::aws
