// PerThreadCache: each thread builds its own copy once per version; invalidate() makes every
// thread rebuild before its next read; caches never share a slot; a writer racing readers never
// leaves a reader on a stale copy after the last invalidate.
#include "common/per_thread_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace fs {
namespace {

struct Copy {
  int value = 0;
  int builds = 0;
};

TEST(PerThreadCache, BuildsOncePerVersionPerThread) {
  PerThreadCache<Copy> cache;
  int shared = 7;
  int builds = 0;
  auto read = [&] {
    return cache
        .get([&](Copy& c) {
          c.value = shared;
          c.builds = ++builds;
        })
        .value;
  };
  EXPECT_EQ(read(), 7);
  EXPECT_EQ(read(), 7);
  EXPECT_EQ(builds, 1);
  shared = 8;
  EXPECT_EQ(read(), 7);  // not invalidated: the copy stands
  cache.invalidate();
  EXPECT_EQ(read(), 8);
  EXPECT_EQ(builds, 2);

  // Another thread has its own copy, built from the state it finds.
  const Copy* here = &cache.get([](Copy&) {});
  const Copy* there = nullptr;
  int value_there = 0;
  std::thread t([&] {
    there = &cache.get([&](Copy& c) { c.value = shared * 10; });
    value_there = there->value;
  });
  t.join();
  EXPECT_NE(here, there);
  EXPECT_EQ(value_there, 80);
  EXPECT_EQ(read(), 8);  // this thread's copy is untouched
}

TEST(PerThreadCache, CachesDoNotShareSlotsEvenBeyondTheSlotCount) {
  std::vector<std::unique_ptr<PerThreadCache<Copy>>> caches;
  for (int i = 0; i < 20; ++i) caches.push_back(std::make_unique<PerThreadCache<Copy>>());
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(caches[static_cast<std::size_t>(i)]->get([&](Copy& c) { c.value = i; }).value, i);
  // A cache created where a destroyed one lived gets a fresh copy, not the old one's.
  caches[3].reset();
  caches[3] = std::make_unique<PerThreadCache<Copy>>();
  EXPECT_EQ(caches[3]->get([](Copy& c) { c.value = 333; }).value, 333);
}

// Writers change the state under a lock, then invalidate; readers on four threads read until
// they have seen the final value. Every value a reader sees is one the writer wrote, never
// older than one it saw before, and each reader ends on the final value.
TEST(PerThreadCache, ReadersFollowAWriterWithoutStaleCopies) {
  PerThreadCache<Copy> cache;
  std::mutex mu;
  int shared = 0;
  constexpr int kFinal = 20000;
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r)
    readers.emplace_back([&] {
      int last = 0;
      while (last != kFinal) {
        const int v = cache
                          .get([&](Copy& c) {
                            std::lock_guard lock(mu);
                            c.value = shared;
                          })
                          .value;
        if (v < last) failed = true;
        last = v;
      }
    });
  for (int i = 1; i <= kFinal; ++i) {
    {
      std::lock_guard lock(mu);
      shared = i;
    }
    cache.invalidate();
  }
  for (auto& t : readers) t.join();  // hangs (test timeout) if a reader stayed on a stale copy
  EXPECT_FALSE(failed.load());
}

}  // namespace
}  // namespace fs
