// CHECK: a broken invariant aborts with file, line and a message.
#pragma once

#include <sstream>

namespace hearth::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* expr);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `CHECK(x) << "..."` be a void expression in both branches.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace hearth::internal

#define CHECK(cond)                                                                \
  (cond) ? (void)0                                                                 \
         : ::hearth::internal::Voidify() &                                         \
               ::hearth::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_NE(a, b) CHECK((a) != (b))
#define CHECK_LT(a, b) CHECK((a) < (b))
#define CHECK_LE(a, b) CHECK((a) <= (b))
#define CHECK_GT(a, b) CHECK((a) > (b))
#define CHECK_GE(a, b) CHECK((a) >= (b))
