#include "cli/teleport/aws_commands.h"

#include <iostream>

#include "aws/credentials.h"
#include "aws/env.h"
#include "aws/http_transport.h"
#include "aws/iam_policy.h"
#include "common/strings.h"

namespace tp {

namespace {

int fail(const std::string& message) {
  std::cerr << "ERROR: " << message << "\n";
  return 1;
}

}  // namespace

int print_iam(const IamCommandOptions& o) {
  auto policy = aws::build_iam_policy(split_list(o.types));
  if (!policy.ok()) return fail("--types: " + policy.error().message);
  if (o.policy_only) {
    std::cout << policy->dump(4) << "\n";
    return 0;
  }
  std::string minified = policy->dump();
  std::cout << "Attach the following IAM policy to the IAM role or user the Database Service runs as.\n"
            << "Use 'teleport db configure aws create-iam --types " << o.types
            << " --name <policy name>' to attach it automatically, or --policy-only to print the JSON alone.\n\n"
            << policy->dump(4) << "\n";
  // Tell the user early when the policy is close to IAM's inline limits.
  for (auto kind : {aws::IamPrincipalKind::kUser, aws::IamPrincipalKind::kRole}) {
    aws::IamPrincipal p{kind, "", "", ""};
    auto size = aws::check_policy_size(minified, p);
    if (!size.ok()) std::cerr << "WARNING: " << size.error().message << "\n";
    else if (!size->empty()) std::cerr << "WARNING: " << *size << "\n";
  }
  return 0;
}

int create_iam(const IamCommandOptions& o) {
  if (o.name.empty()) return fail("--name: name the inline policy to create, e.g. --name=teleport-rds-access");
  if (!o.role.empty() && !o.user.empty()) return fail("--role and --user: pass one of them, not both");
  auto transport = aws::make_http_transport();
  aws::ApiContext ctx{*transport, aws::system_env(), system_clock()};
  auto chain = aws::make_default_credentials_chain(ctx);
  auto creds = chain->retrieve();
  if (!creds.ok()) return fail(creds.error().message);
  std::optional<aws::IamPrincipal> target;
  if (!o.role.empty()) target = aws::IamPrincipal{aws::IamPrincipalKind::kRole, o.role, "", ""};
  if (!o.user.empty()) target = aws::IamPrincipal{aws::IamPrincipalKind::kUser, o.user, "", ""};
  auto attached = aws::attach_database_policy(ctx, *creds, split_list(o.types), o.name, target);
  if (!attached.ok()) return fail(attached.error().message);
  const auto& p = attached->principal;
  std::cout << "Attached inline policy \"" << o.name << "\" to IAM "
            << (p.kind == aws::IamPrincipalKind::kRole ? "role" : "user") << " \"" << p.name << "\""
            << (p.arn.empty() ? "" : " (" + p.arn + ")") << ".\n";
  if (!attached->warning.empty()) std::cerr << "WARNING: " << attached->warning << "\n";
  return 0;
}

}  // namespace tp
