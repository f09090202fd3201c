// Token sampling on the CPU; see sampler.h for the order of operations and the logprob choice.
#include "gpu_worker/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "common/check.h"
#include "common/rng.h"

namespace hearth {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kNegInfD = -std::numeric_limits<double>::infinity();

// The one total order every ranking uses: higher logit first, then lower id. Being total, it
// makes top-k sets and sorted orders unique, whatever the standard library's algorithms do.
bool Ranks(int32_t a_token, float a_logit, int32_t b_token, float b_logit) {
  return a_logit != b_logit ? a_logit > b_logit : a_token < b_token;
}

bool RanksBefore(const SamplerCandidate& a, const SamplerCandidate& b) {
  return Ranks(a.token, a.logit, b.token, b.logit);
}

// NaN carries no information and +inf would turn every later difference into NaN; mapping
// them to -inf and the largest float keeps the arithmetic defined and the intent intact. Runs
// after the penalties, since a repetition penalty below 1 can push a huge logit to +inf.
void Sanitize(std::span<float> logits) {
  for (float& x : logits) {
    x = std::isnan(x) ? kNegInf : std::min(x, std::numeric_limits<float>::max());
  }
}

// Weights use the float exp: about half the cost of the double one over a 128k vocabulary and
// far more precise than sampling needs; sums are still accumulated in double. The exponent is
// clamped first because narrowing a double beyond float range is undefined (exp(-200) is 0
// in float anyway).
double Weight(float logit, float max_logit, float temperature) {
  const double exponent = (static_cast<double>(logit) - max_logit) / temperature;
  return std::exp(static_cast<float>(std::max(exponent, -200.0)));
}

// log(sum(exp(logits))), or -inf when no logit is finite.
double LogSumExp(std::span<const float> logits) {
  float max = kNegInf;
  for (float x : logits) max = std::max(max, x);
  if (max == kNegInf) return kNegInfD;
  double sum = 0;
  for (float x : logits) sum += Weight(x, max, 1.0f);
  return max + std::log(sum);
}

// logit_bias as OpenAI defines it: added to the logit, so -100 all but bans a token and +100
// all but forces it.
void ApplyLogitBias(std::span<float> logits, const std::vector<LogitBias>& biases) {
  for (const LogitBias& b : biases) {
    CHECK(b.token >= 0 && static_cast<size_t>(b.token) < logits.size()) << "logit_bias token " << b.token;
    logits[b.token] += b.bias;
  }
}

// Tokens whose bit is clear in `allowed` (a grammar's mask) become impossible.
void MaskDisallowed(std::span<float> logits, std::span<const uint64_t> allowed) {
  const size_t n = std::min(logits.size(), allowed.size() * 64);
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t bits = allowed[w];
    if (bits == ~uint64_t{0}) continue;
    const size_t end = std::min(n, w * 64 + 64);
    for (size_t t = w * 64; t < end; ++t) {
      if (!((bits >> (t & 63)) & 1)) logits[t] = kNegInf;
    }
  }
  for (size_t t = n; t < logits.size(); ++t) logits[t] = kNegInf;
}

// min_tokens: the tokens that would end the request cannot be drawn yet.
void MaskEndTokens(std::span<float> logits, const SamplingParams& params, const EndTokens& ends) {
  if (ends.num_generated >= params.min_tokens) return;
  for (std::span<const int32_t> ids : {ends.eos, std::span<const int32_t>(params.stop_token_ids)}) {
    for (int32_t id : ids) {
      CHECK(id >= 0 && static_cast<size_t>(id) < logits.size()) << "end token " << id;
      logits[id] = kNegInf;
    }
  }
}

int32_t Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);  // strict: ties keep lower id
  }
  return best;
}

// Keeps the best `n` tokens in result.top with one pass and an insertion into a sorted array
// of at most 20: nearly every token is rejected by a single comparison with the current last.
void FillTopLogprobs(std::span<const float> logits, double log_z, int32_t n, SampleResult& result) {
  result.num_top = 0;
  if (n == 0) return;
  auto& top = result.top;
  int32_t size = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto token = static_cast<int32_t>(i);
    const float logit = logits[i];
    if (logit == kNegInf) continue;
    if (size == n && !Ranks(token, logit, top[size - 1].token, top[size - 1].logprob)) continue;
    int32_t pos = size < n ? size++ : n - 1;
    while (pos > 0 && Ranks(token, logit, top[pos - 1].token, top[pos - 1].logprob)) {
      top[pos] = top[pos - 1];
      --pos;
    }
    top[pos] = {token, logit};  // holds the raw logit until normalized below
  }
  for (int32_t j = 0; j < size; ++j) {
    top[j].logprob = static_cast<float>(top[j].logprob - log_z);
  }
  result.num_top = size;
}

// Every token that can still be drawn, in id order.
void BuildCandidates(std::span<const float> logits, std::vector<SamplerCandidate>& out) {
  out.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kNegInf) out.push_back({static_cast<int32_t>(i), logits[i], 0.0});
  }
}

// Up to this k, a bounded heap beats nth_element over the whole vocabulary: most tokens are
// rejected by one comparison with the heap's worst, and no vocab-sized list is built.
constexpr int32_t kHeapTopKLimit = 256;

// The k best tokens, ranked, via a heap whose front is the worst kept.
void HeapTopK(std::span<const float> logits, int32_t k, std::vector<SamplerCandidate>& out) {
  out.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    const SamplerCandidate x{static_cast<int32_t>(i), logits[i], 0.0};
    if (x.logit == kNegInf) continue;
    if (out.size() == static_cast<size_t>(k)) {
      if (!RanksBefore(x, out.front())) continue;
      std::pop_heap(out.begin(), out.end(), RanksBefore);
      out.back() = x;
    } else {
      out.push_back(x);
    }
    std::push_heap(out.begin(), out.end(), RanksBefore);
  }
  std::sort(out.begin(), out.end(), RanksBefore);
}

// The candidates top-k keeps, ranked; with top-k off, every drawable token in id order.
// Returns whether the list is ranked.
bool SelectCandidates(std::span<const float> logits, int32_t top_k,
                      std::vector<SamplerCandidate>& c) {
  if (top_k > 0 && top_k <= kHeapTopKLimit) {
    HeapTopK(logits, top_k, c);
    return true;
  }
  BuildCandidates(logits, c);
  if (top_k == 0) return false;
  if (static_cast<size_t>(top_k) < c.size()) {
    std::nth_element(c.begin(), c.begin() + top_k, c.end(), RanksBefore);
    c.resize(top_k);
  }
  std::sort(c.begin(), c.end(), RanksBefore);
  return true;
}

// Sets weights relative to the best logit (so the best has weight exactly 1) and returns their
// sum, accumulated in the list's current (canonical) order.
double SetWeights(std::vector<SamplerCandidate>& c, float temperature, float max_logit) {
  double sum = 0;
  for (SamplerCandidate& x : c) {
    x.weight = Weight(x.logit, max_logit, temperature);
    sum += x.weight;
  }
  return sum;
}

// min-p keeps tokens with p >= min_p * p_max, i.e. weight >= min_p. Stable, so the order
// (id order or ranked) stays canonical.
void ApplyMinP(std::vector<SamplerCandidate>& c, float min_p) {
  if (min_p <= 0) return;
  std::erase_if(c, [min_p](const SamplerCandidate& x) { return x.weight < min_p; });
}

// Length of the smallest prefix of the ranked c[0, n) whose mass reaches `target`, or 0 when
// the n do not reach it. The one place the cut is decided, always in ranked order, so the
// result does not depend on how the prefix was found.
size_t NucleusLength(const std::vector<SamplerCandidate>& c, size_t n, double target) {
  double cumulative = 0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += c[i].weight;
    if (cumulative >= target) return i + 1;
  }
  return 0;
}

// Buckets by log-weight, 32 per unit of scaled logit; the last one collects the far tail.
constexpr int kNumBuckets = 1024;
constexpr double kBucketsPerUnit = 32;

int BucketOf(const SamplerCandidate& x, float max_logit, float temperature) {
  const double scaled = (static_cast<double>(max_logit) - x.logit) / temperature;
  const double bucket = scaled * kBucketsPerUnit;
  return bucket >= kNumBuckets - 1 ? kNumBuckets - 1 : static_cast<int>(bucket);
}

// Ranks just enough of an unranked list to hold the nucleus: a histogram of mass by
// log-weight bucket finds the bucket where the mass reaches the target, and only the tokens
// up to that bucket are sorted. Returns how many lead the list, ranked, or 0 when the buckets
// never reach the target.
size_t RankPrefixHoldingMass(std::vector<SamplerCandidate>& c, double target, float max_logit,
                             float temperature) {
  std::array<double, kNumBuckets> mass{};
  std::array<size_t, kNumBuckets> count{};
  for (const SamplerCandidate& x : c) {
    const int b = BucketOf(x, max_logit, temperature);
    mass[b] += x.weight;
    ++count[b];
  }
  double cumulative = 0;
  size_t prefix = 0;
  for (int b = 0; b < kNumBuckets; ++b) {
    cumulative += mass[b];
    prefix += count[b];
    if (cumulative < target) continue;
    std::partition(c.begin(), c.end(), [&](const SamplerCandidate& x) {
      return BucketOf(x, max_logit, temperature) <= b;
    });
    std::sort(c.begin(), c.begin() + prefix, RanksBefore);
    return prefix;
  }
  return 0;
}

// Keeps the nucleus: the smallest ranked prefix holding top_p of `total`, the mass of the set
// top-p is defined over (the top-k set). `c` may already lack a ranked suffix that min-p
// removed: both filters keep a ranked prefix, so min-p first gives the same set and leaves
// less to rank.
void ApplyTopP(std::vector<SamplerCandidate>& c, float top_p, double total, bool ranked,
               float max_logit, float temperature) {
  if (top_p >= 1.0f) return;
  const double target = top_p * total;
  if (!ranked) {
    const size_t prefix = RankPrefixHoldingMass(c, target, max_logit, temperature);
    if (const size_t length = NucleusLength(c, prefix, target); length > 0) {
      c.resize(length);
      return;
    }
    // Bucket sums and ranked sums differ in rounding; near the edge, rank everything.
    std::sort(c.begin(), c.end(), RanksBefore);
  }
  if (const size_t length = NucleusLength(c, c.size(), target); length > 0) c.resize(length);
}

// Inverse CDF over the survivors, in their (canonical) order, so the same uniform picks the
// same token on every machine.
int32_t Draw(const std::vector<SamplerCandidate>& c, double u) {
  double total = 0;
  for (const SamplerCandidate& x : c) total += x.weight;
  const double target = u * total;
  double cumulative = 0;
  for (const SamplerCandidate& x : c) {
    cumulative += x.weight;
    if (target < cumulative) return x.token;
  }
  return c.back().token;  // u * total rounded up to the total
}

int32_t SampleRandom(std::span<const float> logits, const SamplingParams& params,
                     int64_t position, std::vector<SamplerCandidate>& c) {
  const bool ranked = SelectCandidates(logits, params.top_k, c);
  if (c.empty()) return 0;
  float max_logit = kNegInf;
  for (const SamplerCandidate& x : c) max_logit = std::max(max_logit, x.logit);
  const double total = SetWeights(c, params.temperature, max_logit);
  ApplyMinP(c, params.min_p);
  ApplyTopP(c, params.top_p, total, ranked, max_logit, params.temperature);
  return Draw(c, UniformDouble(params.seed, static_cast<uint64_t>(position)));
}

}  // namespace

SampleResult Sample(std::span<const float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens,
                    std::span<const int32_t> generated_tokens, int64_t position,
                    SamplerScratch& scratch, EndTokens ends, std::span<const uint64_t> allowed) {
  CHECK(!logits.empty()) << "empty logits row";
  CHECK(position >= 0) << "negative position " << position;
  // Not a validation of params (done once where they enter): the bound of result.top.
  CHECK(params.num_logprobs >= 0 && params.num_logprobs <= kMaxLogprobs) << "num_logprobs " << params.num_logprobs;

  scratch.logits.assign(logits.begin(), logits.end());
  std::span<float> penalized(scratch.logits);
  ApplyPenalties(penalized, params, prompt_tokens, generated_tokens, scratch.penalties);
  ApplyLogitBias(penalized, params.logit_bias);
  MaskEndTokens(penalized, params, ends);
  if (!allowed.empty()) MaskDisallowed(penalized, allowed);
  Sanitize(penalized);

  SampleResult result;
  result.token = params.greedy() ? Argmax(penalized)
                                 : SampleRandom(penalized, params, position, scratch.candidates);
  const double log_z = LogSumExp(penalized);
  result.logprob = log_z == kNegInfD
                       ? kNegInf
                       : static_cast<float>(penalized[result.token] - log_z);
  FillTopLogprobs(penalized, log_z, params.num_logprobs, result);
  return result;
}

}  // namespace hearth
