// `teleport db configure aws print-iam / create-iam`: the IAM policy the
// Database Service needs (guide step 3).
#pragma once

#include <string>

namespace tp {

struct IamCommandOptions {
  std::string types = "rds";    // --types rds,rds-proxy,redshift,redshift-serverless
  std::string name;             // --name: the inline policy's name (create-iam)
  std::string role;             // --role: attach to this IAM role instead of the caller
  std::string user;             // --user: attach to this IAM user instead of the caller
  bool policy_only = false;     // print-iam: only the JSON document
};

int print_iam(const IamCommandOptions& options);
int create_iam(const IamCommandOptions& options);

}  // namespace tp
