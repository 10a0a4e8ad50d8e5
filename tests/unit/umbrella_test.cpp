// The umbrella header: this file includes nothing of shmring but
// <shmring/shmring.hpp>, so it compiles only while that header brings in
// every public name used below. Also Result<T>'s std::expected members on a
// const result (operator*, value, value_or, error).
#include <shmring/shmring.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <type_traits>
#include <utility>

namespace shmring {
namespace {

// A name for this test's segments, removed at the end (no test support
// headers here: they include shmring headers themselves).
struct Name {
  std::string str = "shmring-test-umbrella-" + std::to_string(::getpid());
  ~Name() { (void)Queue::unlink(str); }
};

TEST(Umbrella, OneIncludeGivesTheWholeLibrary) {
  const Name name;
  auto q = Queue::create(name.str);
  ASSERT_TRUE(q.has_value()) << q.error().message();
  EXPECT_EQ(q->put(std::string_view("hello")), PutStatus::ok);
  EXPECT_EQ(q->get(nowait).text(), "hello");
  // A name from each layer.
  [[maybe_unused]] const platform::Deadline d = platform::Deadline::never();
  [[maybe_unused]] const Wait w = std::chrono::milliseconds(1);
  [[maybe_unused]] const Timeout t = std::chrono::seconds(1);
  static_assert(std::is_class_v<Lock> && std::is_class_v<RLock> && std::is_class_v<Semaphore> &&
                std::is_class_v<BoundedSemaphore> && std::is_class_v<Event> && std::is_class_v<Condition> &&
                std::is_class_v<Barrier> && std::is_class_v<Value<int>> && std::is_class_v<Array<int>> &&
                std::is_class_v<Pipe> && std::is_class_v<Connection> && std::is_class_v<JoinableQueue> &&
                std::is_class_v<MpmcRing> && std::is_class_v<SpscRing> && std::is_class_v<SpscSlotRing<>>);
}

TEST(Umbrella, ConstResultHasTheStdExpectedMembers) {
  const Result<int> ok = 5;
  EXPECT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 5);
  EXPECT_EQ(ok.value(), 5);
  EXPECT_EQ(ok.value_or(7), 5);
  EXPECT_EQ(*std::move(ok), 5);
  const Result<std::string> text = std::string("abc");
  EXPECT_EQ(text->size(), 3u);
  EXPECT_EQ((*text)[1], 'b');

  const Result<int> failed = Error{Errc::not_found, 0, "test"};
  EXPECT_FALSE(failed.has_value());
  EXPECT_FALSE(static_cast<bool>(failed));
  EXPECT_EQ(failed.error().code, Errc::not_found);
  EXPECT_EQ(failed.value_or(7), 7);
  EXPECT_EQ(Result<int>(Error{}).value_or(8), 8);
  // Asking a failed result for its value is an exception carrying the error, never a crash.
  try {
    (void)failed.value();
    ADD_FAILURE() << "value() of a failed Result returned";
  } catch (const BadResultAccess& e) {
    EXPECT_EQ(e.error().code, Errc::not_found);
    EXPECT_NE(std::string(e.what()).find("test"), std::string::npos);
  }
  EXPECT_THROW((void)*failed, BadResultAccess);

  const Result<void> done;
  EXPECT_TRUE(done.has_value());
  EXPECT_NO_THROW(done.value());
  const Result<void> refused = Error{Errc::exists, 0, "test"};
  EXPECT_EQ(refused.error().code, Errc::exists);
  EXPECT_THROW(refused.value(), BadResultAccess);
}

}  // namespace
}  // namespace shmring
