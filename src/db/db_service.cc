#include "db/db_service.h"

#include "db/database_service.h"
#include "service/service_set.h"

namespace tp {

Status start_db_service(ServiceSet& services) {
  TP_TRY(db::DatabaseService * service, db::DatabaseService::start(services));
  // The service lives until the process exits: session coroutines still
  // queued on the io_context when it stops refer to it.
  services.on_stop.push_back([service] { service->stop(); });
  return {};
}

}  // namespace tp
