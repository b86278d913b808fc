#pragma once
// Bearer-token checks shared by the API's handlers.
#include "api/api.hpp"
#include "common/result.hpp"
#include "domain/jwt.hpp"
#include "http/message.hpp"

namespace fs::api {

Result<auth::Claims> authenticate(const ApiDeps& deps, const http::Request& req);
// unauthorized unless the token carries role admin.
Result<auth::Claims> authenticate_admin(const ApiDeps& deps, const http::Request& req);

}  // namespace fs::api
