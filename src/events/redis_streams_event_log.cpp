#include "events/redis_streams_event_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <charconv>
#include <unordered_map>
#include <utility>

#include "metrics/event_metrics.hpp"
#include "redis/redis_client_impl.hpp"

namespace fs::events {
namespace asio = boost::asio;

namespace {

struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  friend bool operator<(const StreamId& a, const StreamId& b) {
    return a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq;
  }
};

bool parse_id(std::string_view s, StreamId& out) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos) return false;
  auto a = std::from_chars(s.data(), s.data() + dash, out.ms);
  auto b = std::from_chars(s.data() + dash + 1, s.data() + s.size(), out.seq);
  return a.ec == std::errc{} && b.ec == std::errc{} && b.ptr == s.data() + s.size();
}

std::string to_string(const StreamId& id) {
  return std::to_string(id.ms) + "-" + std::to_string(id.seq);
}

// A flat [name, value, name, value, ...] reply as a lookup.
const redis::Reply* field(const redis::Reply& flat, std::string_view name) {
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2)
    if (flat.elements[i].str == name) return &flat.elements[i + 1];
  return nullptr;
}

// Entries [[id, [f, v, ...]], ...] of one stream into deliveries. Entries whose fields are nil
// (deleted while pending) are returned in `deleted`.
void collect_entries(const std::string& stream, const redis::Reply& entries,
                     std::vector<Delivery>& out, std::vector<std::string>& deleted) {
  for (const auto& e : entries.elements) {
    if (e.type != redis::Reply::Type::array || e.elements.empty()) continue;
    const auto& id = e.elements[0].str;
    if (e.elements.size() < 2 || e.elements[1].type != redis::Reply::Type::array) {
      deleted.push_back(id);
      continue;
    }
    Delivery d;
    d.partition = stream;
    d.id = id;
    event_from_fields(e.elements[1], d.event);  // a malformed entry keeps empty fields
    out.push_back(std::move(d));
  }
}

}  // namespace

bool event_from_fields(const redis::Reply& fields, Event& out) {
  const auto* type = field(fields, "type");
  const auto* key = field(fields, "key");
  const auto* payload = field(fields, "payload");
  if (type) out.type = type->str;
  if (key) out.key = key->str;
  if (payload) out.payload = payload->str;
  return type && key && payload;
}

std::size_t partition_of(std::string_view key, std::size_t partitions) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return partitions ? static_cast<std::size_t>(h % partitions) : 0;
}

// A reader connection leased for one consume(); returned to the pool when the lease ends (if the
// log still exists: a coroutine frame may be destroyed after it).
class RedisStreamsEventLog::ReaderLease {
 public:
  ReaderLease(RedisStreamsEventLog& log)
      : log_(&log), alive_(log.alive_), client_(log.take_reader()) {}
  ~ReaderLease() {
    if (client_ && !alive_.expired()) log_->give_back_reader(std::move(client_));
  }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  redis::Client& operator*() { return *client_; }

 private:
  RedisStreamsEventLog* log_;
  std::weak_ptr<bool> alive_;
  std::unique_ptr<redis::Client> client_;
};

RedisStreamsEventLog::RedisStreamsEventLog(asio::any_io_executor executor, redis::Client& client,
                                           StreamsConfig config, metrics::EventMetrics* metrics)
    : executor_(std::move(executor)),
      client_(client),
      config_(std::move(config)),
      metrics_(metrics) {
  if (config_.partitions == 0) config_.partitions = 1;
}

RedisStreamsEventLog::~RedisStreamsEventLog() { close(); }

void RedisStreamsEventLog::close() {
  closed_ = true;
  for (auto& r : idle_readers_) r->close();
  idle_readers_.clear();
}

std::unique_ptr<redis::Client> RedisStreamsEventLog::take_reader() {
  if (!idle_readers_.empty()) {
    auto r = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return r;
  }
  auto rc = config_.reader;
  rc.command_timeout += config_.max_block;
  return redis::make_client(executor_, rc);
}

void RedisStreamsEventLog::give_back_reader(std::unique_ptr<redis::Client> reader) {
  if (closed_) {
    reader->close();
    return;
  }
  idle_readers_.push_back(std::move(reader));
}

std::string RedisStreamsEventLog::partition_key(const std::string& topic,
                                                std::size_t partition) const {
  return config_.key_prefix + topic + ":" + std::to_string(partition);
}

const std::vector<std::string>& RedisStreamsEventLog::partitions(const std::string& topic) {
  auto it = partitions_.find(topic);
  if (it == partitions_.end()) {
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < config_.partitions; ++i) keys.push_back(partition_key(topic, i));
    it = partitions_.emplace(topic, std::move(keys)).first;
  }
  return it->second;
}

namespace {
std::vector<std::string> xadd_args(const std::string& stream, std::size_t max_len, Event& e) {
  std::vector<std::string> args{"XADD", stream};
  if (max_len) {
    args.emplace_back("MAXLEN");
    args.emplace_back("~");
    args.push_back(std::to_string(max_len));
  }
  args.emplace_back("*");
  args.emplace_back("type");
  args.push_back(std::move(e.type));
  args.emplace_back("key");
  args.push_back(std::move(e.key));
  args.emplace_back("payload");
  args.push_back(std::move(e.payload));
  return args;
}
}  // namespace

asio::awaitable<Result<std::string>> RedisStreamsEventLog::publish(std::string topic, Event event) {
  const auto& stream = partitions(topic)[partition_of(event.key, config_.partitions)];
  auto reply = co_await client_.command(xadd_args(stream, config_.max_len, event));
  if (metrics_) metrics_->published(topic, reply ? "ok" : "error");
  if (!reply) co_return std::move(reply).error();
  co_return std::move(reply->str);
}

asio::awaitable<Result<std::vector<std::string>>> RedisStreamsEventLog::publish_batch(
    std::string topic, std::vector<Event> events) {
  // One coroutine per XADD, all started before any reply arrives: the client pipelines them.
  struct Batch {
    std::vector<Result<redis::Reply>> replies;
    std::size_t outstanding = 0;
    bool completed = false;
    asio::steady_timer done;
    explicit Batch(asio::any_io_executor ex) : done(ex, asio::steady_timer::time_point::max()) {}
  };
  auto batch = std::make_shared<Batch>(executor_);
  batch->replies.resize(events.size());
  batch->outstanding = events.size();
  if (events.empty()) co_return std::vector<std::string>{};
  const auto& keys = partitions(topic);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto args = xadd_args(keys[partition_of(events[i].key, config_.partitions)], config_.max_len,
                          events[i]);
    asio::co_spawn(
        executor_,
        [](redis::Client& client, std::vector<std::string> argv, std::shared_ptr<Batch> b,
           std::size_t slot) -> asio::awaitable<void> {
          b->replies[slot] = co_await client.command(std::move(argv));
          if (--b->outstanding == 0) {
            b->completed = true;
            b->done.cancel();
          }
        }(client_, std::move(args), batch, i),
        asio::detached);
  }
  while (!batch->completed) co_await batch->done.async_wait(asio::as_tuple(asio::use_awaitable));
  std::vector<std::string> ids;
  ids.reserve(events.size());
  std::size_t failed = 0;
  Error first;
  for (auto& r : batch->replies) {
    if (!r) {
      if (failed++ == 0) first = r.error();
      continue;
    }
    ids.push_back(std::move(r->str));
  }
  if (metrics_) {
    if (!ids.empty()) metrics_->published(topic, "ok", ids.size());
    if (failed) metrics_->published(topic, "error", failed);
  }
  if (failed) co_return first;
  co_return ids;
}

asio::awaitable<Status> RedisStreamsEventLog::ensure_group(std::string topic, std::string group) {
  for (const auto& stream : partitions(topic)) {
    auto r = co_await client_.command("XGROUP", "CREATE", stream, group, "0", "MKSTREAM");
    if (!r && r.error().message.find("BUSYGROUP") == std::string::npos)
      co_return std::move(r).error();
  }
  co_return Status{};
}

asio::awaitable<Result<std::vector<Delivery>>> RedisStreamsEventLog::reclaim(
    const std::string& topic, const std::string& group, const std::string& consumer,
    std::size_t max, std::chrono::milliseconds idle) {
  std::vector<Delivery> out;
  for (const auto& stream : partitions(topic)) {
    if (out.size() >= max) break;
    auto& cursor = claim_cursor_[group + "\n" + stream];
    if (cursor.empty()) cursor = "0-0";
    auto r = co_await client_.command("XAUTOCLAIM", stream, group, consumer,
                                      std::to_string(idle.count()), cursor, "COUNT",
                                      std::to_string(max - out.size()));
    if (!r) co_return std::move(r).error();
    if (r->elements.size() < 2) co_return Error{Errc::protocol_error, "XAUTOCLAIM reply"};
    cursor = r->elements[0].str;
    std::vector<std::string> deleted;
    const std::size_t first = out.size();
    collect_entries(stream, r->elements[1], out, deleted);
    if (r->elements.size() > 2)
      for (const auto& d : r->elements[2].elements) deleted.push_back(d.str);
    // Entries deleted (trimmed) while pending cannot be handled any more: drop them from the PEL.
    for (const auto& id : deleted) (void)co_await client_.command("XACK", stream, group, id);
    if (out.size() == first) continue;
    // XAUTOCLAIM does not return delivery counts: read them from the PEL.
    auto pel = co_await client_.command("XPENDING", stream, group, out[first].id, out.back().id,
                                        std::to_string(out.size() - first + 64), consumer);
    std::unordered_map<std::string, std::int64_t> counts;
    if (pel)
      for (const auto& p : pel->elements)
        if (p.elements.size() >= 4) counts[p.elements[0].str] = p.elements[3].integer;
    for (std::size_t i = first; i < out.size(); ++i) {
      auto it = counts.find(out[i].id);
      out[i].delivery_count = it != counts.end() ? it->second : 2;
      if (metrics_) metrics_->delivery(topic, group, "reclaimed");
    }
  }
  co_return out;
}

asio::awaitable<Result<std::vector<Delivery>>> RedisStreamsEventLog::consume(
    std::string topic, std::string group, std::string consumer, std::size_t max,
    std::chrono::milliseconds block, std::chrono::milliseconds reclaim_idle) {
  if (max == 0) co_return std::vector<Delivery>{};
  // XAUTOCLAIM costs one command per partition: asked on every call it was most of a busy
  // consumer's Redis commands. Entries only become reclaimable after reclaim_idle, so looking
  // every reclaim_idle / 2 (at most every second) delays a reclaim by at most half that.
  std::vector<Delivery> out;
  auto& last = last_reclaim_[topic + "\n" + group + "\n" + consumer];
  const auto now = std::chrono::steady_clock::now();
  const auto every = std::min<std::chrono::steady_clock::duration>(reclaim_idle / 2,
                                                                   std::chrono::seconds(1));
  if (last == std::chrono::steady_clock::time_point{} || now - last >= every) {
    auto got = co_await reclaim(topic, group, consumer, max, reclaim_idle);
    if (!got) co_return std::move(got).error();
    out = std::move(*got);
    // A full batch may leave more to take: look again on the next call.
    last = out.size() >= max ? std::chrono::steady_clock::time_point{} : now;
  }
  if (out.size() >= max) co_return out;

  const auto& keys = partitions(topic);
  std::vector<std::string> args{"XREADGROUP", "GROUP", group,
                                consumer,     "COUNT", std::to_string(max - out.size())};
  const bool blocking = out.empty() && block.count() > 0;
  if (blocking) {
    args.emplace_back("BLOCK");
    args.push_back(std::to_string(std::min(block, config_.max_block).count()));
  }
  args.emplace_back("STREAMS");
  for (const auto& k : keys) args.push_back(k);
  for (std::size_t i = 0; i < keys.size(); ++i) args.emplace_back(">");

  Result<redis::Reply> reply;
  if (blocking) {
    if (closed_) co_return Error{Errc::cancelled, "event log closed"};
    ReaderLease reader(*this);
    reply = co_await (*reader).command(std::move(args));
  } else {
    reply = co_await client_.command(std::move(args));
  }
  if (!reply) co_return std::move(reply).error();
  for (const auto& s : reply->elements) {  // nil on timeout: no elements
    if (s.elements.size() < 2) continue;
    std::vector<std::string> deleted;
    collect_entries(s.elements[0].str, s.elements[1], out, deleted);
  }
  co_return out;
}

asio::awaitable<Status> RedisStreamsEventLog::ack(std::string group, Delivery delivery) {
  auto r = co_await client_.command("XACK", delivery.partition, group, delivery.id);
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

asio::awaitable<Status> RedisStreamsEventLog::ack_batch(std::string group,
                                                        std::vector<Delivery> deliveries) {
  // XACK takes any number of ids of one stream: one command per partition of the batch.
  std::map<std::string, std::vector<std::string>> by_partition;
  for (auto& d : deliveries) {
    auto& args = by_partition[d.partition];
    if (args.empty()) {
      args.emplace_back("XACK");
      args.push_back(d.partition);
      args.push_back(group);
    }
    args.push_back(std::move(d.id));
  }
  Status result;
  for (auto& [partition, args] : by_partition) {
    auto r = co_await client_.command(std::move(args));
    if (!r && result) result = std::move(r).error();
  }
  co_return result;
}

asio::awaitable<Result<GroupLag>> RedisStreamsEventLog::lag(std::string topic, std::string group) {
  GroupLag total;
  for (const auto& stream : partitions(topic)) {
    auto r = co_await client_.command("XINFO", "GROUPS", stream);
    if (!r) {
      if (r.error().message.find("no such key") != std::string::npos) continue;
      co_return std::move(r).error();
    }
    for (const auto& g : r->elements) {
      const auto* name = field(g, "name");
      if (!name || name->str != group) continue;
      std::int64_t pending = 0, undelivered = 0;
      if (const auto* p = field(g, "pending")) pending = p->integer;
      const auto* lag = field(g, "lag");
      if (lag && lag->type == redis::Reply::Type::integer) {
        undelivered = lag->integer;
      } else if (const auto* last = field(g, "last-delivered-id")) {
        // Redis cannot tell (entries were deleted): count what lies after the group's position.
        auto range = co_await client_.command("XRANGE", stream, "(" + last->str, "+");
        if (!range) co_return std::move(range).error();
        undelivered = static_cast<std::int64_t>(range->elements.size());
      }
      total.undelivered += undelivered;
      total.pending += pending;
      if (metrics_) metrics_->lag(topic, group, stream, undelivered, pending);
    }
  }
  co_return total;
}

asio::awaitable<Result<std::int64_t>> RedisStreamsEventLog::trim_acknowledged(std::string topic) {
  std::int64_t removed = 0;
  for (const auto& stream : partitions(topic)) {
    auto r = co_await client_.command("XINFO", "GROUPS", stream);
    if (!r) {
      if (r.error().message.find("no such key") != std::string::npos) continue;
      co_return std::move(r).error();
    }
    if (r->elements.empty()) continue;  // no group has read it: only MAXLEN bounds it
    bool known = true;
    StreamId floor{UINT64_MAX, UINT64_MAX};
    for (const auto& g : r->elements) {
      const auto* name = field(g, "name");
      const auto* pending = field(g, "pending");
      const auto* last = field(g, "last-delivered-id");
      StreamId keep;
      if (!name || !pending || !last || !parse_id(last->str, keep)) {
        known = false;
        break;
      }
      if (pending->integer > 0) {
        auto summary = co_await client_.command("XPENDING", stream, name->str);
        if (!summary || summary->elements.size() < 2 || !parse_id(summary->elements[1].str, keep)) {
          known = false;
          break;
        }
      } else {
        ++keep.seq;  // everything up to last-delivered is acknowledged
      }
      if (keep < floor) floor = keep;
    }
    if (!known) continue;
    const std::string min_id = to_string(floor);
    const std::string chunk = std::to_string(std::max<std::size_t>(config_.trim_chunk, 1));
    for (;;) {
      auto t = co_await client_.command("XTRIM", stream, "MINID", "~", min_id, "LIMIT", chunk);
      if (!t) co_return std::move(t).error();
      removed += t->integer;
      if (t->integer == 0) break;
    }
    auto t = co_await client_.command("XTRIM", stream, "MINID", min_id);
    if (!t) co_return std::move(t).error();
    removed += t->integer;
  }
  co_return removed;
}

}  // namespace fs::events
