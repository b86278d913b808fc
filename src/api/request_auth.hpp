#pragma once
// What the API's handlers share: bearer-token checks, and the services of the request's thread.
#include "api/api.hpp"
#include "common/result.hpp"
#include "domain/jwt.hpp"
#include "http/message.hpp"

namespace fs::api {

Result<auth::Claims> authenticate(const ApiDeps& deps, const http::Request& req);
// unauthorized unless the token carries role admin.
Result<auth::Claims> authenticate_admin(const ApiDeps& deps, const http::Request& req);

// The services of the I/O thread that reads `req`.
inline const WorkerServices& worker_of(const ApiDeps& deps, const http::Request& req) {
  return deps.workers[req.worker < deps.workers.size() ? req.worker : 0];
}

}  // namespace fs::api
