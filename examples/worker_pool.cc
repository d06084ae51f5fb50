// worker_pool.cc: fan out jobs to N workers, fan the results back in.
//
// A fixed pool of worker greenlets takes jobs from one shared channel (fan-out: whichever worker
// is free takes the next job) and sends results to one shared channel (fan-in). main feeds the
// jobs, closes the job channel when there are no more, and collects exactly one result per job.
// Results arrive in whatever order the workers finish them; main puts them back in job order.
//
// Each job here is "count the Collatz steps of n", plus a short sleep that stands in for real
// work such as a network call: while one worker waits, the others keep going, so 4 workers get
// through the 24 jobs about 4 times faster than one would.
//
// Run it:   ./bazelw run //examples:worker_pool

#include <canal/canal.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

struct job {
  int id;
  long n;
};

struct result {
  int id;
  long n;
  int steps;
  int worker;  // who did it (varies from run to run, so it is not printed)
};

int collatz_steps(long n) {
  int steps = 0;
  while (n != 1) {
    n = n % 2 == 0 ? n / 2 : 3 * n + 1;
    ++steps;
  }
  return steps;
}

// A worker: take jobs until the job channel is closed and empty, send one result per job.
void worker(int me, canal::recv_chan<job> jobs, canal::send_chan<result> results) {
  for (const job& j : jobs) {
    canal::this_task::sleep_for(scaled(50ms));  // "real work" that waits, e.g. on the network
    results.send(result{j.id, j.n, collatz_steps(j.n), me});
  }
}

}  // namespace

int main() {
  constexpr int kWorkers = 4;
  constexpr int kJobs = 24;
  const auto t0 = std::chrono::steady_clock::now();

  const bool ok = canal::run(
      [] {
        canal::chan<job> jobs(kJobs);        // room for every job: main never waits to submit
        canal::chan<result> results(0);      // unbuffered: workers hand results straight over

        // Fan-out: start the pool. Every worker reads the same job channel.
        std::vector<canal::task<void>> pool;
        for (int w = 0; w < kWorkers; ++w) pool.push_back(canal::go(worker, w, jobs, results));

        // Submit the jobs, then close: "no more jobs" (workers finish the queue, then stop).
        for (int i = 0; i < kJobs; ++i) jobs.send(job{i, 27 + 10L * i});
        jobs.close();

        // Fan-in: exactly one result per job, in completion order. Sort them by job id.
        std::map<int, result> by_id;
        std::map<int, int> per_worker;
        for (int i = 0; i < kJobs; ++i) {
          const result r = *results.recv();
          by_id[r.id] = r;
          ++per_worker[r.worker];
        }
        canal::joinall(pool);  // the workers have seen the closed job channel and returned

        bool right = by_id.size() == kJobs;
        for (const auto& [id, r] : by_id) {
          std::printf("job %2d: collatz(%3ld) takes %3d steps\n", id, r.n, r.steps);
          right = right && r.steps == collatz_steps(27 + 10L * id);
        }
        std::printf("%d jobs done by a pool of %d workers\n", kJobs, kWorkers);
        for (const auto& [w, n] : per_worker) {
          std::fprintf(stderr, "(worker %d did %d jobs)\n", w, n);  // varies from run to run
        }
        return right;
      },
      canal::options{.workers = 2});

  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  std::fprintf(stderr, "(took %.2f s; one worker alone would need %d x 50 ms, times the scale)\n",
               took.count(), kJobs);
  return ok ? 0 : 1;
}
