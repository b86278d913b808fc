#pragma once
// Per-thread copies of read-mostly state that all I/O threads share.
//
// The hot path reads a few shared structures on every request (the product catalog, the stock
// view) that change a few times a second at most. Under a reader-writer lock, or through a
// shared_ptr copy, every read *writes* to a cache line that all the threads share (the lock's
// reader count, the control block's reference count), so those lines travel between cores on
// every request. Here the owner keeps a version, written only by updates; each thread keeps its
// own copy (`Local`) with the version it was built at and rebuilds it when the version moved. A
// steady-state read is one load of a line nobody writes; what the thread then touches is its own.
//
// Writers change the shared state first, then call invalidate(). A reader that loaded the old
// version may build from the new state, and then rebuilds once more at its next read: no thread
// keeps reading a copy older than the last invalidate() it has seen.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fs {

template <class Local>
class PerThreadCache {
 public:
  PerThreadCache() : id_(next_id()) {}
  PerThreadCache(const PerThreadCache&) = delete;
  PerThreadCache& operator=(const PerThreadCache&) = delete;

  void invalidate() noexcept { version_.fetch_add(1, std::memory_order_acq_rel); }

  // This thread's copy, rebuilt by build(Local&) (which reads the shared state under the
  // owner's lock and fills the cleared copy) when the state changed since it was last built.
  // The reference is only good until this thread's next get() on any PerThreadCache<Local>:
  // copy out what is needed at once.
  template <class Build>
  Local& get(Build&& build) const {
    const auto v = version_.load(std::memory_order_acquire);
    Slot& s = slot();
    if (s.version != v) {
      s.local = Local{};
      build(s.local);
      s.version = v;
    }
    return s.local;
  }

 private:
  struct Slot {
    std::uint64_t owner = 0;
    std::uint64_t version = 0;
    Local local{};
  };
  // A few slots per thread, one per cache this thread reads (caches are few and long-lived; a
  // destroyed one's slot is recycled when the thread needs room).
  static constexpr std::size_t kSlotsPerThread = 8;

  Slot& slot() const {
    thread_local std::vector<std::unique_ptr<Slot>> slots;
    for (auto& s : slots)
      if (s->owner == id_) return *s;
    if (slots.size() >= kSlotsPerThread) slots.erase(slots.begin());
    slots.push_back(std::make_unique<Slot>());
    slots.back()->owner = id_;
    return *slots.back();
  }
  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  const std::uint64_t id_;  // never reused, unlike an address
  alignas(64) std::atomic<std::uint64_t> version_{1};
};

}  // namespace fs
