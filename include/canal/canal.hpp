// canal/canal.hpp: everything in canal, in one include.
//
// canal brings Go's and gevent's concurrency model to C++20: greenlets (stackful coroutines)
// multiplexed M:N over worker threads that each own a libuv hub, typed channels, and select.
#pragma once

#if __cplusplus < 202002L
#error "canal needs C++20: build with -std=c++20 (Bazel: build --cxxopt=-std=c++20 in .bazelrc)"
#endif

#include "canal/chan.hpp"
#include "canal/errors.hpp"
#include "canal/group.hpp"
#include "canal/run.hpp"
#include "canal/select.hpp"
#include "canal/sync.hpp"
#include "canal/task.hpp"
#include "canal/version.hpp"
