// flashsale: the flash-sale backend. Subcommands (app/cli/):
//   up     start Redis, PostgreSQL and the service locally (data under one folder), run a demo sale
//   serve  run the service against existing Redis and PostgreSQL
//   crowd  race a crowd of users at a product on a running server and check the invariants
//   token  mint a JWT for a user (or an admin)
//   payments-sim  run the Stripe-compatible payment simulator (latency and fault injection)
//   worker roles that share only Redis and PostgreSQL with the service (saga, sweeper, relay,
//          notifier)
#include <spdlog/spdlog.h>

#include "app/cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"flashsale: a flash-sale backend (reserve, pay, never oversell)"};
  app.require_subcommand(1);
  fs::cli::ServeCommand serve;
  serve.add_to(app);
  fs::cli::UpCommand up;
  up.add_to(app);
  fs::cli::CrowdCommand crowd;
  crowd.add_to(app);
  fs::cli::TokenCommand token;
  token.add_to(app);
  fs::cli::PaymentsSimCommand payments_sim;
  payments_sim.add_to(app);
  fs::cli::WorkerCommand worker;
  worker.add_to(app);

  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (*token.cmd) return token.run();
  if (*crowd.cmd) return crowd.run();
  if (*payments_sim.cmd) return payments_sim.run();
  const sigset_t signals = fs::cli::block_termination_signals();
  if (*worker.cmd) return worker.run(signals);
  if (*serve.cmd) return serve.run(signals);
  return up.run(signals);
}
