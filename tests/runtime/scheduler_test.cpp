#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "runtime/fake_pipeline.h"

namespace mofa::runtime {
namespace {

using mofa::testing::FakeEngine;
using mofa::testing::FakePipeline;
using std::chrono::milliseconds;

std::vector<int32_t> ids(const std::string& text) {
  std::vector<int32_t> out;
  for (unsigned char c : text) out.push_back(c);
  return out;
}

GenerationRequest request(const std::string& prompt, int max_tokens = -1, bool ignore_eos = false) {
  GenerationRequest r;
  r.prompt = ids(prompt);
  r.options.max_tokens = max_tokens;
  r.options.ignore_eos = ignore_eos;
  return r;
}

struct Collected {
  std::string text;
  int tokens = 0;
  StreamEvent last;
};

Collected drain(RequestHandle& handle) {
  Collected c;
  StreamEvent event;
  for (;;) {
    if (!handle.next(&event, milliseconds(100))) continue;
    if (event.kind == StreamEvent::Kind::token) {
      c.text += event.token.text;
      if (event.token.id >= 0) ++c.tokens;
      continue;
    }
    c.last = event;
    return c;
  }
}

StreamEvent next_event(RequestHandle& handle) {
  StreamEvent event;
  while (!handle.next(&event, milliseconds(100))) {
  }
  return event;
}

template <typename Pred>
void wait_until(Pred pred) {
  while (!pred()) std::this_thread::sleep_for(milliseconds(1));
}

TEST(Scheduler, GeneratesTheWholeAnswerWithUsage) {
  FakeEngine engine;
  FakePipeline pipeline(engine, "/m");
  Scheduler scheduler(pipeline, SchedulerOptions{});
  auto handle = scheduler.submit(request("hi"));
  auto result = drain(handle);
  EXPECT_EQ(result.text, engine.answer);
  ASSERT_EQ(result.last.kind, StreamEvent::Kind::done);
  EXPECT_EQ(result.last.finish, llm::FinishReason::stop);
  EXPECT_EQ(result.last.usage.prompt_tokens, 2);
  EXPECT_EQ(result.last.usage.completion_tokens, static_cast<int>(engine.answer.size()) + 1);
}

TEST(Scheduler, MaxTokensEndsWithLength) {
  FakeEngine engine;
  FakePipeline pipeline(engine, "/m");
  Scheduler scheduler(pipeline, SchedulerOptions{});
  auto handle = scheduler.submit(request("hi", 3));
  auto result = drain(handle);
  EXPECT_EQ(result.text, "Hel");
  EXPECT_EQ(result.last.finish, llm::FinishReason::length);
}

TEST(Scheduler, InterleavesActiveGenerationsStepByStep) {
  FakeEngine engine;
  engine.close();
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 2;
  Scheduler scheduler(pipeline, options);
  auto a = scheduler.submit(request("A", 6));
  auto b = scheduler.submit(request("B", 6));
  wait_until([&] { return scheduler.stats().active + scheduler.stats().queued == 2; });
  engine.open();
  drain(a);
  drain(b);
  const auto log = engine.log();
  // B's steps start before A's end: the two generations advanced in turns.
  const auto first_b = std::find(log.begin(), log.end(), "B") - log.begin();
  const auto last_a = log.rend() - std::find(log.rbegin(), log.rend(), "A") - 1;
  EXPECT_LT(first_b, last_a);
  EXPECT_EQ(std::count(log.begin(), log.end(), "A"), 7);
  EXPECT_EQ(std::count(log.begin(), log.end(), "B"), 7);
}

TEST(Scheduler, CancellationFreesTheSlotForTheNextRequest) {
  FakeEngine engine;
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(pipeline, options);
  // A may run two steps, then waits at the gate: it cannot reach the context limit before the
  // cancel, however the threads are scheduled.
  engine.allow(2);
  auto a = scheduler.submit(request("A", 100000, true));
  ASSERT_EQ(next_event(a).kind, StreamEvent::Kind::token);
  auto b = scheduler.submit(request("B", 3));
  a.cancel();
  engine.open();
  auto result_b = drain(b);
  EXPECT_EQ(result_b.last.kind, StreamEvent::Kind::done);
  EXPECT_EQ(result_b.text, "Hel");
  auto result_a = drain(a);
  EXPECT_EQ(result_a.last.finish, llm::FinishReason::cancelled);
  const auto log = engine.log();
  EXPECT_LT(std::count(log.begin(), log.end(), "A"), 1000);
  EXPECT_EQ(scheduler.stats().active, 0);
}

TEST(Scheduler, DroppingTheHandleCancels) {
  FakeEngine engine;
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(pipeline, options);
  {
    auto a = scheduler.submit(request("A", 100000, true));
    ASSERT_EQ(next_event(a).kind, StreamEvent::Kind::token);
  }
  wait_until([&] { return scheduler.busy() == 0; });
  const auto log = engine.log();
  EXPECT_LT(std::count(log.begin(), log.end(), "A"), 1000);
}

TEST(Scheduler, FullQueueThrowsQueueFullWithRetryAfter) {
  FakeEngine engine;
  engine.close();
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 1;
  options.queue_capacity = 1;
  Scheduler scheduler(pipeline, options);
  auto a = scheduler.submit(request("A", 2));
  wait_until([&] { return scheduler.stats().active == 1; });
  auto b = scheduler.submit(request("B", 2));
  try {
    scheduler.submit(request("C", 2));
    FAIL() << "the third request should not fit";
  } catch (const QueueFull& e) {
    EXPECT_GE(e.retry_after_s(), 1);
  }
  engine.open();
  EXPECT_EQ(drain(a).last.kind, StreamEvent::Kind::done);
  EXPECT_EQ(drain(b).last.kind, StreamEvent::Kind::done);
}

TEST(Scheduler, CancelledQueuedRequestGivesItsPlaceBack) {
  FakeEngine engine;
  engine.close();
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 1;
  options.queue_capacity = 1;
  Scheduler scheduler(pipeline, options);
  auto a = scheduler.submit(request("A", 2));
  wait_until([&] { return scheduler.stats().active == 1; });
  auto b = scheduler.submit(request("B", 2));
  b.cancel();
  auto c = scheduler.submit(request("C", 2));  // fits: B left the queue
  engine.open();
  EXPECT_EQ(drain(c).last.kind, StreamEvent::Kind::done);
  const auto log = engine.log();
  EXPECT_EQ(std::count(log.begin(), log.end(), "B"), 0);
}

TEST(Scheduler, PromptLongerThanTheContextIsRejectedNamingBothLengths) {
  FakeEngine engine;
  engine.context = 16;
  FakePipeline pipeline(engine, "/m");
  Scheduler scheduler(pipeline, SchedulerOptions{});
  try {
    scheduler.submit(request(std::string(20, 'x')));
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("20 tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("16"), std::string::npos) << e.what();
  }
}

TEST(Scheduler, TimeoutEndsALongGenerationWithATimeoutError) {
  FakeEngine engine;
  engine.context = 1 << 30;
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.timeout = milliseconds(30);
  Scheduler scheduler(pipeline, options);
  auto a = scheduler.submit(request("A", -1, true));
  StreamEvent event;
  do {
    event = next_event(a);
  } while (event.kind == StreamEvent::Kind::token);
  EXPECT_EQ(event.kind, StreamEvent::Kind::error);
  EXPECT_TRUE(event.error_is_timeout);
  EXPECT_EQ(scheduler.busy(), 0);
}

TEST(Scheduler, PrefersTheSlotSharingTheLongestPrefix) {
  FakeEngine engine;
  FakePipeline pipeline(engine, "/m");
  SchedulerOptions options;
  options.parallel = 3;
  Scheduler scheduler(pipeline, options);
  auto a = scheduler.submit(request("first conversation", 2));
  drain(a);
  auto b = scheduler.submit(request("another one", 2));
  drain(b);
  auto c = scheduler.submit(request("first conversation, next turn", 2));
  auto result = drain(c);
  EXPECT_EQ(result.last.usage.cached_tokens,
            static_cast<int>(std::string("first conversation").size()));
}

TEST(Scheduler, UnloadAnswersEveryRunningAndQueuedRequest) {
  FakeEngine engine;
  engine.context = 1 << 30;
  FakePipeline pipeline(engine, "/m");
  auto scheduler = std::make_unique<Scheduler>(pipeline, SchedulerOptions{});
  auto a = scheduler->submit(request("A", -1, true));
  auto b = scheduler->submit(request("B", -1, true));
  ASSERT_EQ(next_event(a).kind, StreamEvent::Kind::token);
  scheduler.reset();
  EXPECT_EQ(drain(a).last.kind, StreamEvent::Kind::error);
  EXPECT_EQ(drain(b).last.kind, StreamEvent::Kind::error);
}

}  // namespace
}  // namespace mofa::runtime
