// teleport: the daemon (`teleport start`) and its configuration helpers.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/teleport/aws_commands.h"
#include "cli/teleport/process.h"
#include "common/fast_copies.h"
#include "common/files.h"
#include "common/strings.h"
#include "crypto/password.h"
#include "service/config.h"

namespace tp {
namespace {

int fail(const std::string& message) {
  std::cerr << "ERROR: " << message << "\n";
  return 1;
}

int cmd_start(const std::string& path) {
  return_password_work_areas_to_the_system();
  auto config = load_config(path);
  if (!config.ok()) return fail(config.error().message);
  return run_teleport(*config);
}

int cmd_db_configure_create(DbConfigureOptions o, const std::string& output) {
  auto text = render_db_config(o);
  if (!text.ok()) return fail(text.error().message);
  if (output == "stdout") {
    std::cout << *text;
    return 0;
  }
  std::string path = output;
  if (path == "file") path = kDefaultConfigPath;
  else if (starts_with(path, "file://")) path = path.substr(7);
  if (file_exists(path)) return fail("refusing to overwrite " + path + "; remove it first or choose another -o file://PATH");
  if (auto s = write_file_atomic(path, *text, 0600); !s.ok()) return fail(s.error().message);
  std::cout << "Wrote config to file \"" << path << "\". Now you can start the server. Happy Teleporting!\n";
  return 0;
}

}  // namespace
}  // namespace tp

int main(int argc, char** argv) {
  using namespace tp;
  CLI::App app{"teleport: the Teleport daemon (Auth, Proxy and Database services)"};
  app.require_subcommand(1);
  int rc = 0;

  std::string config_path = kDefaultConfigPath;
  auto* start = app.add_subcommand("start", "Start the services named in the config file");
  start->add_option("-c,--config", config_path, "Config file (default /etc/teleport.yaml)");
  start->callback([&] {
    restart_for_fast_copies(argv);  // the proxy and the agent relay every byte: see common/fast_copies.h
    rc = cmd_start(config_path);
  });

  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "Teleport v" TP_VERSION "\n"; });

  auto* db = app.add_subcommand("db", "Database service helpers")->require_subcommand(1);
  auto* configure = db->add_subcommand("configure", "Create database service configuration")->require_subcommand(1);
  DbConfigureOptions o;
  std::string output = "stdout";
  std::string labels_flag;
  auto* create = configure->add_subcommand("create", "Create a database service config file");
  create->add_option("-o,--output", output, "stdout, file (writes /etc/teleport.yaml) or file://PATH");
  create->add_option("--name", o.name, "Name of the database to proxy");
  create->add_option("--proxy", o.proxy, "Teleport proxy address to connect to (host:port)");
  create->add_option("--protocol", o.protocol, "Database protocol: postgres or mysql");
  create->add_option("--uri", o.uri, "Database address (host:port)");
  create->add_option("--labels", o.labels, "Static labels, e.g. env=dev");
  create->add_option("--token", o.token, "Join token, or the path of a file holding it (e.g. /tmp/token)");
  create->add_option("--ca-pin", o.ca_pin, "CA pin to validate the cluster (sha256:...)");
  create->add_option("--data-dir", o.data_dir, "Data directory (default /var/lib/teleport)");
  create->add_option("--ca-cert-file", o.ca_cert_file, "CA bundle the database's certificate chains to");
  create->add_option("--aws-region", o.aws_region, "AWS region of an RDS/Aurora database");
  create->add_option("--aws-assume-role-arn", o.assume_role_arn, "IAM role to assume for this database");
  create->add_option("--aws-external-id", o.external_id, "External ID for --aws-assume-role-arn");
  std::string rds_regions;
  create->add_option("--rds-discovery", rds_regions, "Discover RDS databases in these regions (comma-separated)");
  create->callback([&] {
    o.rds_discovery_regions = split_list(rds_regions);
    rc = cmd_db_configure_create(o, output);
  });

  auto* aws = configure->add_subcommand("aws", "AWS IAM policies for the Database Service")->require_subcommand(1);
  IamCommandOptions iam;
  auto* print_iam_cmd = aws->add_subcommand("print-iam", "Print the IAM policy the Database Service needs");
  print_iam_cmd->add_option("-r,--types", iam.types, "Database types: rds, rds-proxy, redshift, redshift-serverless");
  print_iam_cmd->add_flag("--policy-only", iam.policy_only, "Print only the policy JSON");
  print_iam_cmd->callback([&] { rc = print_iam(iam); });
  auto* create_iam_cmd = aws->add_subcommand("create-iam", "Create the IAM policy and attach it to the caller");
  create_iam_cmd->add_option("-r,--types", iam.types, "Database types: rds, rds-proxy, redshift, redshift-serverless");
  create_iam_cmd->add_option("--name", iam.name, "Name of the inline policy")->required();
  create_iam_cmd->add_option("--role", iam.role, "Attach to this IAM role (default: the caller)");
  create_iam_cmd->add_option("--user", iam.user, "Attach to this IAM user (default: the caller)");
  create_iam_cmd->callback([&] { rc = create_iam(iam); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return rc;
}
