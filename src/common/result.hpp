#pragma once
// Result<T>: a value or an Error. Small on purpose; see error.hpp for the error model.
#include <cassert>
#include <utility>
#include <variant>

#include "common/error.hpp"

namespace fs {

template <class T>
class [[nodiscard]] Result {
 public:
  // An unset result is an internal error; it exists because asio::use_future needs a default.
  Result() : v_(std::in_place_index<1>, Error{Errc::internal, "unset result"}) {}
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Result(Errc code) : v_(std::in_place_index<1>, Error{code}) {}         // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }
  Errc code() const { return error().code; }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  Result(Errc code) : err_(Error{code}), ok_(false) {}         // NOLINT
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return err_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(err_);
  }
  Errc code() const { return err_.code; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace fs
