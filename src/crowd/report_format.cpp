// format_report: the human table and the JSON form of a CrowdReport.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <string>

#include "crowd/crowd.hpp"
#include "crowd/gateway_layers.hpp"

namespace fs::crowd {
namespace {

std::string outcome_label(const Outcome& o) {
  if (o.status == 0)
    return "no response (" + (o.code.empty() ? std::string("error") : o.code) + ")";
  if (!o.code.empty()) return o.code;
  switch (o.status) {
    case 200:
      return "ok";
    case 201:
      return "created";
    case 202:
      return "accepted";
    default:
      return o.status >= 200 && o.status < 300 ? "success" : "(no error code)";
  }
}

boost::json::object latency_json(const LatencySummary& l) {
  boost::json::object o;
  o["count"] = l.count;
  o["min"] = l.min;
  o["mean"] = l.mean;
  o["p50"] = l.p50;
  o["p90"] = l.p90;
  o["p99"] = l.p99;
  o["p99_9"] = l.p999;
  o["max"] = l.max;
  return o;
}

std::string format_json(const CrowdReport& r) {
  boost::json::object root;
  root["product_id"] = r.product_id;
  root["connections"] = r.connections;
  root["threads"] = r.threads;
  root["total"] = r.total;
  root["duration_seconds"] = r.duration_seconds;
  root["throughput_rps"] = r.throughput_rps;
  boost::json::array outcomes;
  for (const auto& o : r.outcomes.sorted()) {
    boost::json::object e;
    e["status"] = o.status;
    e["code"] = o.code;
    e["count"] = o.count;
    e["percent"] =
        r.total == 0 ? 0.0 : 100.0 * static_cast<double>(o.count) / static_cast<double>(r.total);
    outcomes.push_back(std::move(e));
  }
  root["outcomes"] = std::move(outcomes);
  boost::json::object latency;
  latency["unit"] = "us";
  latency["all"] = latency_json(r.latency_all);
  latency["created"] = latency_json(r.latency_created);
  root["latency"] = std::move(latency);
  root["max_created_per_user"] = r.max_created_per_user;
  auto layers_json = [](const LayerCounts& c) {
    boost::json::object o;
    o["requests"] = c.total;
    o["rate_limited"] = c.rate_limited;
    o["queue_full"] = c.queue_full;
    o["timed_out"] = c.timed_out;
    o["bot_blocked"] = c.bot_blocked;
    o["sold_out"] = c.sold_out;
    o["reserved"] = c.reserved;
    o["other"] = c.other;
    return o;
  };
  boost::json::object layers;
  layers["humans"] = layers_json(count_layers(r.human_outcomes));
  layers["bots"] = layers_json(count_layers(r.bot_outcomes));
  layers["queued"] = r.queued;
  root["layers"] = std::move(layers);
  // Embed the server's stats verbatim when they are JSON, so nothing the server said is lost.
  boost::system::error_code ec;
  auto stats =
      r.stats_json.empty() ? boost::json::value(nullptr) : boost::json::parse(r.stats_json, ec);
  root["stats"] = ec ? boost::json::value(nullptr) : std::move(stats);
  root["stats_at_rest"] = r.stats_at_rest;
  boost::json::object inv;
  inv["checked"] = r.invariants.checked;
  inv["ok"] = r.invariants.ok;
  inv["message"] = r.invariants.message;
  root["invariants"] = std::move(inv);
  return boost::json::serialize(root) + "\n";
}

void append_latency_row(std::string& out, const char* label, const LatencySummary& l) {
  char line[200];
  if (l.count == 0) {
    std::snprintf(line, sizeof line, "  %-12s %9zu  %9s\n", label, l.count, "-");
  } else {
    auto ms = [](double us) { return us / 1000.0; };
    std::snprintf(line, sizeof line, "  %-12s %9zu  %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", label,
                  l.count, ms(l.mean), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max));
  }
  out += line;
}

// Flow 8's picture: where each request was stopped, humans and bots apart. Printed when a
// gateway layer answered at least once (or bots took part).
void append_layer_table(std::string& out, const CrowdReport& r) {
  const LayerCounts all = count_layers(r.outcomes);
  const bool gateway_seen =
      all.rate_limited + all.queue_full + all.timed_out + all.bot_blocked > 0 || r.queued > 0;
  if (!gateway_seen && r.bots == 0) return;
  const LayerCounts h = count_layers(r.human_outcomes);
  const LayerCounts b = count_layers(r.bot_outcomes);
  char line[160];
  out += "\n  by layer                      humans       bots\n";
  auto row = [&](const char* name, std::uint64_t hv, std::uint64_t bv) {
    std::snprintf(line, sizeof line, "  %-26s %9llu  %9llu\n", name,
                  static_cast<unsigned long long>(hv), static_cast<unsigned long long>(bv));
    out += line;
  };
  row("requests", h.total, b.total);
  row("rate-limited (429)", h.rate_limited, b.rate_limited);
  row("queue full (503)", h.queue_full, b.queue_full);
  row("timed out in queue (408)", h.timed_out, b.timed_out);
  row("bot-blocked (403)", h.bot_blocked, b.bot_blocked);
  row("sold out (410)", h.sold_out, b.sold_out);
  row("reserved (201)", h.reserved, b.reserved);
  row("other", h.other, b.other);
  if (r.queued >= 0) {
    std::snprintf(line, sizeof line, "  queued >= 1 ms (server)    %9lld\n",
                  static_cast<long long>(r.queued));
    out += line;
  }
}

std::string format_table(const CrowdReport& r) {
  std::string out;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "crowd: %llu requests for '%s' in %.2f s = %.0f req/s (%zu connections, %zu threads)\n\n",
      static_cast<unsigned long long>(r.total), r.product_id.c_str(), r.duration_seconds,
      r.throughput_rps, r.connections, r.threads);
  out += line;

  out += "  status  outcome                          count    share\n";
  for (const auto& o : r.outcomes.sorted()) {
    const double pct =
        r.total == 0 ? 0.0 : 100.0 * static_cast<double>(o.count) / static_cast<double>(r.total);
    const std::string status = o.status == 0 ? std::string("-") : std::to_string(o.status);
    std::snprintf(line, sizeof line, "  %-6s  %-28s %9llu  %6.2f%%\n", status.c_str(),
                  outcome_label(o).c_str(), static_cast<unsigned long long>(o.count), pct);
    out += line;
  }

  append_layer_table(out, r);

  out +=
      "\n  latency (ms)     count       mean       p50       p90       p99     p99.9       max\n";
  append_latency_row(out, "all", r.latency_all);
  append_latency_row(out, "201 created", r.latency_created);

  out += '\n';
  if (r.stats) {
    const auto& s = *r.stats;
    std::snprintf(line, sizeof line,
                  "stock after the run: total %lld | available %lld, pending %lld, paying %lld, "
                  "paid %lld | failed %lld, expired %lld%s\n",
                  static_cast<long long>(s.stock_total), static_cast<long long>(s.available),
                  static_cast<long long>(s.pending), static_cast<long long>(s.paying),
                  static_cast<long long>(s.paid), static_cast<long long>(s.failed),
                  static_cast<long long>(s.expired),
                  r.stats_at_rest ? "" : " (payments still in flight)");
    out += line;
  }
  if (!r.invariants.checked) {
    out += "invariants: NOT CHECKED: " + r.invariants.message + "\n";
  } else if (r.invariants.ok) {
    out += "invariants: OK (" + r.invariants.message + ")\n";
  } else {
    out += "invariants: FAILED\n";
    std::size_t start = 0;
    while (start <= r.invariants.message.size()) {
      const auto end = r.invariants.message.find('\n', start);
      out += "  " + r.invariants.message.substr(start, end - start) + "\n";
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return out;
}

}  // namespace

std::string format_report(const CrowdReport& report, bool json) {
  return json ? format_json(report) : format_table(report);
}

}  // namespace fs::crowd
