#include "xai/attribution/shapley.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::forward_rows;

using detail::shape_str;
using detail::Stopwatch;

using torch::indexing::Slice;

void check_positive(const char* name, int64_t value) {
  if (value < 1) {
    throw InvalidArgument("invalid " + std::string(name) + ": " +
                          std::to_string(value) + " (must be >= 1)");
  }
}

// Checks the background option; an undefined one is refused when required
// and means one row of zeros otherwise.
void check_background(const torch::Tensor& background, bool required) {
  if (!background.defined()) {
    if (!required) return;
    throw InvalidArgument(
        "invalid background: none (give reference rows [k, ...]; one row of "
        "zeros is a zero baseline)");
  }
  if (background.dim() < 2 || background.size(0) == 0) {
    throw InvalidArgument("invalid background: shape " +
                          shape_str(background.sizes()) +
                          " (must be [k, ...input row shape] with k >= 1)");
  }
}

// Number of players of the background's rows (the mask must fit them), or
// -1 when there is no background to check against.
int64_t check_players(const Players& players, const torch::Tensor& background) {
  if (!background.defined()) return -1;
  c10::IntArrayRef row = background.sizes().slice(1);
  players.element_players(row);
  return players.count(row);
}

std::string background_str(const torch::Tensor& background) {
  return background.defined() ? std::to_string(background.size(0))
                              : std::string("zeros");
}

std::string players_str(const Players& players,
                        const torch::Tensor& background) {
  int64_t count = check_players(players, background);
  return count < 0 ? players.str() : std::to_string(count);
}

torch::ScalarType result_dtype(const Model& model) {
  return model.dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

at::Generator make_generator(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

// C(n, k) in double; inf beyond double's range.
double binomial(int64_t n, int64_t k) {
  double c = 1.0;
  for (int64_t i = 1; i <= k; ++i) {
    c = c * static_cast<double>(n - k + i) / static_cast<double>(i);
  }
  return c;
}


// The inputs of one attribute() call, on the model's device.
struct Batch {
  torch::Tensor x;           // [rows, ...row shape], model dtype
  torch::Tensor background;  // [k, ...row shape], model dtype
  torch::Tensor targets;     // int64 [rows, T]
  torch::Tensor outputs;     // float64 [rows, T]: f(x) at the targets
  torch::Tensor base;        // float64 [rows, T]: mean background output
};

Batch prepare_batch(const Model& model, const torch::Tensor& x_in,
                    const torch::Tensor& background, const Target& target,
                    int64_t max_batch, Attribution& a) {
  Batch batch;
  batch.x = detail::prepare_input(model, x_in, "input").detach();
  if (background.defined()) {
    c10::IntArrayRef want = batch.x.sizes().slice(1);
    if (background.sizes().slice(1) != want) {
      throw InvalidArgument("invalid background: row shape " +
                            shape_str(background.sizes().slice(1)) +
                            " (must match the input row shape " +
                            shape_str(want) + ")");
    }
    batch.background =
        detail::prepare_input(model, background, "background").detach();
  } else {
    batch.background = torch::zeros_like(batch.x.narrow(0, 0, 1));
  }

  torch::Tensor out = forward_rows(model, batch.x, max_batch, a);
  batch.targets = model.select_targets(out, target).to(batch.x.device());
  batch.outputs = out.gather(1, batch.targets).to(torch::kFloat64);
  torch::Tensor mean = forward_rows(model, batch.background, max_batch, a)
                           .to(torch::kFloat64)
                           .mean(0, /*keepdim=*/true);
  batch.base = mean.expand({batch.x.size(0), -1}).gather(1, batch.targets);
  return batch;
}

// The cooperative game of a batch: v(row, S) is the mean over background
// rows b of the target outputs at x[row] with the elements of players
// outside S taken from b.
class Game {
 public:
  // `element_players`: int64 [row numel], the player of each element.
  Game(const Model& model, const Batch& batch, torch::Tensor element_players,
       int64_t players, int64_t max_batch, Attribution& a)
      : model_(model),
        batch_(batch),
        players_(players),
        max_batch_(max_batch),
        a_(a) {
    element_players_ = element_players.to(batch.x.device());
    x_ = batch.x.flatten(1);
    background_ = batch.background.flatten(1);
    row_shape_ = batch.x.sizes().slice(1).vec();
    full_ = batch.outputs.cpu();
    empty_ = batch.base.cpu();
  }

  int64_t rows() const { return x_.size(0); }
  int64_t players() const { return players_; }
  int64_t targets() const { return batch_.targets.size(1); }
  int64_t background_rows() const { return background_.size(0); }

  // v(all players) = f(x[row]) and v(no player) = the mean background
  // output, both [T] float64 on the CPU: known from the batch, so no method
  // evaluates these two coalitions again.
  torch::Tensor full(int64_t row) const { return full_[row]; }
  torch::Tensor empty(int64_t row) const { return empty_[row]; }

  // The players of `row` with an element that differs from some background
  // row; the others are dummies whose value is 0.
  std::vector<int64_t> active(int64_t row) const {
    torch::Tensor differs = (background_ != x_[row]).any(0).to(torch::kInt64);
    torch::Tensor per_player = torch::zeros({players_}, differs.options())
                                   .index_add_(0, element_players_, differs);
    torch::Tensor ids = (per_player > 0).nonzero().flatten().cpu();
    return std::vector<int64_t>(ids.data_ptr<int64_t>(),
                                ids.data_ptr<int64_t>() + ids.numel());
  }

  // v for each item i = (rows[i], keep[i]): `rows` int64 [K], `keep` bool
  // [K, P] (true: the player takes x's values). Returns float64 [K, T] on
  // the CPU.
  //
  // A pass holds whole items against every background row (or, when the
  // background alone exceeds max_batch, one item against a slice of it), so
  // the model rows of an item stay together and average in place.
  torch::Tensor values(const torch::Tensor& rows, const torch::Tensor& keep) {
    torch::NoGradGuard no_grad;
    torch::Device device = x_.device();
    torch::Tensor item_rows = rows.to(device);
    torch::Tensor kept =
        keep.to(device).index_select(1, element_players_).unsqueeze(1);
    torch::Tensor item_targets = batch_.targets.index_select(0, item_rows);
    int64_t k = background_rows();
    int64_t items = item_rows.size(0);
    torch::Tensor sum = torch::zeros(
        {items, targets()},
        torch::TensorOptions().dtype(torch::kFloat64).device(device));

    int64_t per_pass = std::max<int64_t>(1, max_batch_ / k);
    int64_t span = std::min(k, max_batch_);
    for (int64_t i = 0; i < items; i += per_pass) {
      int64_t j = std::min(items, i + per_pass);
      torch::Tensor x =
          x_.index_select(0, item_rows.slice(0, i, j)).unsqueeze(1);
      for (int64_t b = 0; b < k; b += span) {
        int64_t e = std::min(k, b + span);
        // [j - i, e - b, n]: x where kept, else the background row.
        torch::Tensor in = torch::where(
            kept.slice(0, i, j), x, background_.slice(0, b, e).unsqueeze(0));
        std::vector<int64_t> shape = row_shape_;
        shape.insert(shape.begin(), (j - i) * (e - b));
        torch::Tensor out =
            model_.forward(in.view(shape)).view({j - i, e - b, -1});
        torch::Tensor index = item_targets.slice(0, i, j).unsqueeze(1).expand(
            {j - i, e - b, targets()});
        sum.slice(0, i, j) += out.gather(2, index).to(torch::kFloat64).sum(1);
        a_.forward_passes += 1;
        a_.model_evaluations += (j - i) * (e - b);
      }
    }
    return (sum / static_cast<double>(k)).cpu();
  }

  // values() for items that all belong to `row`.
  torch::Tensor values(int64_t row, const torch::Tensor& keep) {
    return values(torch::full({keep.size(0)}, row, torch::kInt64), keep);
  }

  // Keep masks over all players [K, P] from masks over the `active` ones
  // [K, m]; the other players are kept (they equal the background anyway).
  torch::Tensor widen(const torch::Tensor& keep_active,
                      const std::vector<int64_t>& active) const {
    torch::Tensor keep =
        torch::ones({keep_active.size(0), players_}, torch::kBool);
    if (!active.empty()) {
      keep.index_put_({Slice(), torch::tensor(active, torch::kInt64)},
                      keep_active);
    }
    return keep;
  }

 private:
  const Model& model_;
  const Batch& batch_;
  torch::Tensor element_players_;
  torch::Tensor x_;           // [rows, n]
  torch::Tensor background_;  // [k, n]
  torch::Tensor full_;        // [rows, T], CPU
  torch::Tensor empty_;       // [rows, T], CPU
  std::vector<int64_t> row_shape_;
  int64_t players_;
  int64_t max_batch_;
  Attribution& a_;
};

// Collects the coalitions of several input rows and evaluates them together
// once they fill a forward pass, so methods with few coalitions per row
// (ablation, occlusion) share passes between rows. `done(row, v)` receives
// each row's values [K_row, T] in the order the row's masks were added.
class Pool {
 public:
  Pool(Game& game, int64_t max_batch,
       std::function<void(int64_t, const torch::Tensor&)> done)
      : game_(game), max_batch_(max_batch), done_(std::move(done)) {}

  void add(int64_t row, torch::Tensor keep) {
    pending_ += keep.size(0);
    rows_.push_back(row);
    keeps_.push_back(std::move(keep));
    if (pending_ * game_.background_rows() >= max_batch_) flush();
  }

  void flush() {
    if (keeps_.empty()) return;
    std::vector<torch::Tensor> row_ids;
    for (size_t i = 0; i < keeps_.size(); ++i) {
      row_ids.push_back(
          torch::full({keeps_[i].size(0)}, rows_[i], torch::kInt64));
    }
    torch::Tensor v = game_.values(torch::cat(row_ids), torch::cat(keeps_));
    int64_t at = 0;
    for (size_t i = 0; i < keeps_.size(); ++i) {
      int64_t count = keeps_[i].size(0);
      done_(rows_[i], v.slice(0, at, at + count));
      at += count;
    }
    rows_.clear();
    keeps_.clear();
    pending_ = 0;
  }

 private:
  Game& game_;
  int64_t max_batch_;
  std::function<void(int64_t, const torch::Tensor&)> done_;
  std::vector<int64_t> rows_;
  std::vector<torch::Tensor> keeps_;
  int64_t pending_ = 0;
};

// Sets targets, outputs, base values and the completeness gap of `a` from
// the batch, the gap from the float64 player values `phi` [rows, T, P].
void finish_outputs(Attribution& a, const Batch& batch,
                    const torch::Tensor& phi_sum, torch::ScalarType dtype) {
  torch::Tensor outputs = batch.outputs.cpu();
  torch::Tensor base = batch.base.cpu();
  a.targets = batch.targets.cpu();
  a.outputs = outputs.to(dtype);
  a.base_values = base.to(dtype);
  a.completeness_gap = (phi_sum - (outputs - base)).to(dtype);
}

void log_done(const Attribution& a, int64_t players, int64_t k) {
  spdlog::info(
      "{}: {} rows, {} players, {} background rows, {} evaluations, "
      "{:.3f} s, max relative completeness gap {:.2e}",
      a.method, a.values.size(0), players, k, a.model_evaluations, a.seconds,
      max_relative_gap(a));
}

// What a player method computes for a batch: player values [rows, T, P]
// and, for sampled methods, their standard errors, both float64 on the CPU.
struct PlayerEstimate {
  torch::Tensor values;
  torch::Tensor errors;
};

// The steps every player method shares: prepares the batch, builds the
// game, lets `solve(game)` estimate the player values, and writes them back
// to the elements.
PlayerAttribution run_players(
    const Model& model, const torch::Tensor& x, const Target& target,
    const torch::Tensor& background, const Players& players, int64_t max_batch,
    std::string method,
    std::vector<std::pair<std::string, std::string>> options,
    const std::function<PlayerEstimate(Game&)>& solve) {
  Stopwatch watch;
  PlayerAttribution r;
  Attribution& a = r.attribution;
  a.method = std::move(method);
  a.options = std::move(options);

  Batch batch = prepare_batch(model, x, background, target, max_batch, a);
  c10::IntArrayRef row_shape = batch.x.sizes().slice(1);
  torch::Tensor element_players = players.element_players(row_shape);
  int64_t count = players.count(row_shape);
  Game game(model, batch, element_players, count, max_batch, a);
  PlayerEstimate estimate = solve(game);

  // A player's value is shared equally by its elements.
  torch::Tensor members =
      torch::bincount(element_players, {}, count).to(torch::kFloat64);
  torch::Tensor per_element = estimate.values.index_select(2, element_players) /
                              members.index_select(0, element_players);
  std::vector<int64_t> shape = batch.x.sizes().vec();
  shape.insert(shape.begin() + 1, game.targets());

  torch::ScalarType dtype = result_dtype(model);
  a.values = per_element.reshape(shape).to(dtype);
  r.player_values = estimate.values.to(dtype);
  if (estimate.errors.defined()) {
    r.standard_errors = estimate.errors.to(dtype);
    a.standard_errors = (estimate.errors.index_select(2, element_players) /
                         members.index_select(0, element_players))
                            .reshape(shape)
                            .to(dtype);
  }
  for (int64_t p = 0; p < count; ++p) r.player_names.push_back(players.name(p));
  finish_outputs(a, batch, estimate.values.sum(2), dtype);
  a.seconds = watch.seconds();
  log_done(a, count, game.background_rows());
  return r;
}

// Writes one row's estimate [m, T] for the `active` players into
// out [rows, T, P].
void put_row(torch::Tensor& out, int64_t row, const torch::Tensor& estimate,
             const std::vector<int64_t>& active) {
  out.select(0, row).index_copy_(1, torch::tensor(active, torch::kInt64),
                                 estimate.t().contiguous());
}

// ---------------------------------------------------------------------------
// Exact Shapley.

// Every coalition of m players as keep masks: bool [2^m, m], coalition s
// holding player j when bit j of s is set.
torch::Tensor all_coalitions(int64_t m, int64_t begin, int64_t end) {
  std::vector<int64_t> bits;
  for (int64_t j = 0; j < m; ++j) bits.push_back(int64_t{1} << j);
  torch::Tensor s = torch::arange(begin, end, torch::kInt64);
  return torch::bitwise_and(s.unsqueeze(1),
                            torch::tensor(bits, torch::kInt64).unsqueeze(0))
      .ne(0);
}

// Shapley values [m, T] of `row`'s active players by the formula.
torch::Tensor exact_row(Game& game, int64_t row,
                        const std::vector<int64_t>& active) {
  int64_t m = static_cast<int64_t>(active.size());
  int64_t count = int64_t{1} << m;
  torch::Tensor keep = all_coalitions(m, 0, count);
  torch::Tensor proper = keep.slice(0, 1, count - 1);
  torch::Tensor v = torch::cat({game.empty(row).unsqueeze(0),
                                game.values(row, game.widen(proper, active)),
                                game.full(row).unsqueeze(0)});

  // |S|! (m - |S| - 1)! / m! = 1 / (m C(m - 1, |S|)); unused for |S| = m.
  std::vector<double> table(m + 1, 0.0);
  for (int64_t c = 0; c < m; ++c) {
    table[c] = 1.0 / (static_cast<double>(m) * binomial(m - 1, c));
  }
  torch::Tensor weight =
      torch::tensor(table, torch::kFloat64).index_select(0, keep.sum(1));

  // Coalitions without j pair with those with j at index + 2^j.
  int64_t t = v.size(1);
  torch::Tensor phi = torch::empty({m, t}, torch::kFloat64);
  for (int64_t j = 0; j < m; ++j) {
    int64_t low = int64_t{1} << j;
    int64_t high = count >> (j + 1);
    torch::Tensor pairs = v.view({high, 2, low, t});
    torch::Tensor gain = pairs.select(1, 1) - pairs.select(1, 0);
    torch::Tensor w = weight.view({high, 2, low}).select(1, 0).unsqueeze(2);
    phi[j] = (gain * w).flatten(0, 1).sum(0);
  }
  return phi;
}

// ---------------------------------------------------------------------------
// Permutation sampling.

// Mean [m, T] and standard error [m, T] of `row`'s active players over
// `pairs` antithetic pairs of permutations.
PlayerEstimate permutation_row(Game& game, int64_t row,
                               const std::vector<int64_t>& active,
                               int64_t pairs, at::Generator& generator) {
  int64_t m = static_cast<int64_t>(active.size());
  int64_t q = 2 * pairs;

  // rank[p, i]: position of player i in permutation p; the reverse of a
  // permutation ranks i at m - 1 - rank.
  std::vector<torch::Tensor> ranks;
  for (int64_t p = 0; p < pairs; ++p) {
    torch::Tensor order = torch::randperm(m, generator, torch::kInt64);
    torch::Tensor rank = torch::argsort(order);
    ranks.push_back(rank);
    ranks.push_back(m - 1 - rank);
  }
  torch::Tensor rank = torch::stack(ranks);

  // Prefix j = 1..m-1 of permutation p holds the players ranked below j;
  // the empty and the full coalition are shared by all permutations.
  torch::Tensor j = torch::arange(1, m, torch::kInt64).view({1, m - 1, 1});
  torch::Tensor prefixes = (rank.unsqueeze(1) < j).reshape({q * (m - 1), m});
  torch::Tensor v = game.values(row, game.widen(prefixes, active));

  // Marginal contribution of the player at position j, then per player.
  int64_t t = v.size(1);
  torch::Tensor chain = torch::cat(
      {game.empty(row).view({1, 1, t}).expand({q, 1, t}), v.view({q, m - 1, t}),
       game.full(row).view({1, 1, t}).expand({q, 1, t})},
      1);
  torch::Tensor step = chain.slice(1, 1) - chain.slice(1, 0, m);
  torch::Tensor contribution =
      step.gather(1, rank.unsqueeze(2).expand({q, m, t}));

  // A pair's mean is one sample; its spread gives the standard error.
  torch::Tensor sample = contribution.view({pairs, 2, m, t}).mean(1);
  torch::Tensor mean = sample.mean(0);
  torch::Tensor variance =
      (sample - mean).pow(2).sum(0) / static_cast<double>(pairs - 1);
  return {mean, (variance / static_cast<double>(pairs)).sqrt()};
}

// ---------------------------------------------------------------------------
// KernelSHAP.

// Coalitions over m players and their regression weights.
struct Design {
  torch::Tensor keep;    // bool [K, m]
  torch::Tensor weight;  // float64 [K]
};

// Builds a design as rows are added, merging repeated coalitions.
class DesignBuilder {
 public:
  explicit DesignBuilder(int64_t m) : m_(m) {}

  // Adds `mask` with `weight`, or adds the weight to an earlier copy;
  // returns whether the coalition is new.
  bool add(const std::string& mask, double weight, bool merge) {
    if (merge) {
      auto found = index_.find(mask);
      if (found != index_.end()) {
        weights_[found->second] += weight;
        return false;
      }
      index_.emplace(mask, static_cast<int64_t>(weights_.size()));
    }
    bytes_.insert(bytes_.end(), mask.begin(), mask.end());
    weights_.push_back(weight);
    return true;
  }

  int64_t size() const { return static_cast<int64_t>(weights_.size()); }

  // Scales the weights of rows [from, size) to sum to `total`.
  void rescale(int64_t from, double total) {
    double sum = 0.0;
    for (int64_t i = from; i < size(); ++i) sum += weights_[i];
    if (sum <= 0.0) return;
    for (int64_t i = from; i < size(); ++i) weights_[i] *= total / sum;
  }

  Design build() const {
    int64_t k = size();
    torch::Tensor keep =
        torch::tensor(std::vector<int64_t>(bytes_.begin(), bytes_.end()),
                      torch::kInt64)
            .view({k, m_})
            .ne(0);
    return {keep, torch::tensor(weights_, torch::kFloat64)};
  }

 private:
  int64_t m_;
  std::vector<char> bytes_;
  std::vector<double> weights_;
  std::unordered_map<std::string, int64_t> index_;
};

std::string complement(const std::string& mask) {
  std::string out = mask;
  for (char& c : out) c = c ? 0 : 1;
  return out;
}

// Shapley kernel weight of a coalition of size s among m players.
double kernel_weight(int64_t m, int64_t s) {
  return static_cast<double>(m - 1) /
         (binomial(m, s) * static_cast<double>(s) * static_cast<double>(m - s));
}

// All 2^m - 2 proper coalitions with their kernel weights.
Design full_design(int64_t m) {
  torch::Tensor keep = all_coalitions(m, 1, (int64_t{1} << m) - 1);
  std::vector<double> table(m + 1, 0.0);
  for (int64_t s = 1; s < m; ++s) table[s] = kernel_weight(m, s);
  torch::Tensor weight =
      torch::tensor(table, torch::kFloat64).index_select(0, keep.sum(1));
  return {keep, weight};
}

// SHAP's design for `budget` coalitions over m players (see shapley.h).
Design sampled_design(int64_t m, int64_t budget, at::Generator& generator) {
  // Sizes s = 1..m/2, each standing also for its complement size m - s;
  // sizes up to `paired` have a complement of a different size.
  int64_t sizes = m / 2;
  int64_t paired = (m - 1) / 2;
  std::vector<double> share(sizes + 1, 0.0);
  double total = 0.0;
  for (int64_t s = 1; s <= sizes; ++s) {
    share[s] = (m - 1.0) / (s * (m - s + 0.0)) * (s <= paired ? 2.0 : 1.0);
    total += share[s];
  }
  for (double& w : share) w /= total;

  // Enumerate whole sizes while the budget covers their share.
  DesignBuilder design(m);
  double left = static_cast<double>(budget);
  std::vector<double> remaining = share;
  int64_t full = 0;
  for (int64_t s = 1; s <= sizes; ++s) {
    double count = binomial(m, s) * (s <= paired ? 2.0 : 1.0);
    if (left * remaining[s] / count < 1.0 - 1e-8) break;
    full = s;
    left -= count;
    if (remaining[s] < 1.0) {
      for (int64_t u = s + 1; u <= sizes; ++u) {
        remaining[u] /= 1.0 - remaining[s];
      }
    }
    double each = share[s] / count;
    std::vector<int64_t> pick(s);
    for (int64_t i = 0; i < s; ++i) pick[i] = i;
    while (true) {
      std::string mask(m, 0);
      for (int64_t i : pick) mask[i] = 1;
      design.add(mask, each, /*merge=*/false);
      if (s <= paired) design.add(complement(mask), each, /*merge=*/false);
      // Next combination in lexicographic order.
      int64_t i = s - 1;
      while (i >= 0 && pick[i] == m - s + i) --i;
      if (i < 0) break;
      ++pick[i];
      for (int64_t u = i + 1; u < s; ++u) pick[u] = pick[u - 1] + 1;
    }
  }

  // Draw the rest: a size by its kernel share (halved for paired sizes,
  // which bring their complement), then a uniform coalition of that size.
  int64_t fixed = design.size();
  int64_t samples_left = budget - fixed;
  if (full == sizes || samples_left <= 0) return design.build();
  std::vector<double> p;
  double rest = 0.0;
  for (int64_t s = full + 1; s <= sizes; ++s) {
    p.push_back(share[s] / (s <= paired ? 2.0 : 1.0));
    rest += share[s];
  }
  torch::Tensor draws =
      torch::multinomial(torch::tensor(p, torch::kFloat64), 4 * samples_left,
                         /*replacement=*/true, generator);
  auto drawn = draws.accessor<int64_t, 1>();
  for (int64_t d = 0; d < drawn.size(0) && samples_left > 0; ++d) {
    int64_t s = full + 1 + drawn[d];
    torch::Tensor order = torch::randperm(m, generator, torch::kInt64);
    auto players = order.accessor<int64_t, 1>();
    std::string mask(m, 0);
    for (int64_t i = 0; i < s; ++i) mask[players[i]] = 1;
    if (design.add(mask, 1.0, /*merge=*/true)) --samples_left;
    if (samples_left > 0 && s <= paired) {
      if (design.add(complement(mask), 1.0, /*merge=*/true)) --samples_left;
    }
  }
  design.rescale(fixed, rest);
  return design.build();
}

// KernelSHAP values [m, T] of `row`'s active players.
torch::Tensor kernel_row(Game& game, int64_t row,
                         const std::vector<int64_t>& active, int64_t budget,
                         at::Generator& generator) {
  int64_t m = static_cast<int64_t>(active.size());
  torch::Tensor empty = game.empty(row);
  torch::Tensor change = game.full(row) - empty;
  if (m == 1) return change.unsqueeze(0);

  if (budget == 0) budget = 2 * m + 2048;
  bool enumerate = m < 62 && budget >= (int64_t{1} << m) - 2;
  Design design =
      enumerate ? full_design(m) : sampled_design(m, budget, generator);
  torch::Tensor v = game.values(row, game.widen(design.keep, active));

  // Substitute phi_last = change - sum of the others, then fit the rest:
  // v(S) - v(empty) - z_last change = sum_i<last (z_i - z_last) phi_i.
  torch::Tensor z = design.keep.to(torch::kFloat64);
  torch::Tensor z_last = z.slice(1, m - 1);
  torch::Tensor lhs = z.slice(1, 0, m - 1) - z_last;
  torch::Tensor rhs = v - empty - z_last * change;
  torch::Tensor root = design.weight.sqrt().unsqueeze(1);
  torch::Tensor beta = std::get<0>(torch::linalg::lstsq(
      lhs * root, rhs * root, c10::nullopt, c10::string_view("gelsd")));
  return torch::cat({beta, (change - beta.sum(0)).unsqueeze(0)});
}

// ---------------------------------------------------------------------------
// Occlusion.

// Window start positions along one dimension of `size`.
std::vector<int64_t> window_starts(int64_t size, int64_t window,
                                   int64_t stride) {
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + window <= size; s += stride) starts.push_back(s);
  if (starts.back() + window < size) starts.push_back(size - window);
  return starts;
}

// Which elements each window position covers: bool [W, row numel].
torch::Tensor window_masks(c10::IntArrayRef row_shape,
                           const std::vector<int64_t>& window,
                           const std::vector<int64_t>& stride) {
  int64_t dims = static_cast<int64_t>(window.size());
  int64_t lead = static_cast<int64_t>(row_shape.size()) - dims;
  std::vector<std::vector<int64_t>> starts;
  int64_t count = 1;
  for (int64_t d = 0; d < dims; ++d) {
    starts.push_back(window_starts(row_shape[lead + d], window[d], stride[d]));
    count *= static_cast<int64_t>(starts.back().size());
  }

  std::vector<int64_t> shape = row_shape.vec();
  shape.insert(shape.begin(), count);
  torch::Tensor masks = torch::zeros(shape, torch::kBool);
  std::vector<size_t> at(dims, 0);
  for (int64_t w = 0; w < count; ++w) {
    torch::Tensor view = masks[w];
    for (int64_t d = 0; d < dims; ++d) {
      view = view.narrow(lead + d, starts[d][at[d]], window[d]);
    }
    view.fill_(true);
    // Advance the odometer over window positions, last dimension fastest.
    for (int64_t d = dims - 1; d >= 0; --d) {
      if (++at[d] < starts[d].size()) break;
      at[d] = 0;
    }
  }
  return masks.view({count, -1});
}

}  // namespace

// ---------------------------------------------------------------------------

Attribution PlayerExplainer::attribute(const torch::Tensor& x,
                                       const Target& target) const {
  return explain(x, target).attribution;
}

// ---------------------------------------------------------------------------

ExactShapley::ExactShapley(Model model, ExactShapleyOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_background(options_.background, /*required=*/true);
  if (options_.max_players < 1 || options_.max_players > 30) {
    throw InvalidArgument(
        "invalid max_players: " + std::to_string(options_.max_players) +
        " (must be in [1, 30])");
  }
  check_positive("max_batch", options_.max_batch);
  int64_t players = check_players(options_.players, options_.background);
  if (players > options_.max_players) {
    std::string limit = std::to_string(options_.max_players);
    throw InvalidArgument(
        "cannot run exact Shapley on " + std::to_string(players) +
        " players: more than max_players " + limit + " (2^" +
        std::to_string(players) +
        " coalitions per row); use kernelshap or permutation, or group "
        "features into at most " +
        limit + " players");
  }
}

PlayerAttribution ExactShapley::explain(const torch::Tensor& x,
                                        const Target& target) const {
  auto solve = [&](Game& game) {
    torch::Tensor phi = torch::zeros(
        {game.rows(), game.targets(), game.players()}, torch::kFloat64);
    for (int64_t row = 0; row < game.rows(); ++row) {
      std::vector<int64_t> active = game.active(row);
      if (active.empty()) continue;
      put_row(phi, row, exact_row(game, row, active), active);
    }
    return PlayerEstimate{phi, {}};
  };
  return run_players(
      model_, x, target, options_.background, options_.players,
      options_.max_batch, "shapley",
      {{"background", background_str(options_.background)},
       {"players", players_str(options_.players, options_.background)},
       {"max_players", std::to_string(options_.max_players)},
       {"max_batch", std::to_string(options_.max_batch)}},
      solve);
}

std::string ExactShapley::str() const {
  return "ExactShapley(background=" + background_str(options_.background) +
         ", players=" + players_str(options_.players, options_.background) +
         ", max_players=" + std::to_string(options_.max_players) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

PermutationShapley::PermutationShapley(Model model,
                                       PermutationShapleyOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_background(options_.background, /*required=*/true);
  if (options_.samples < 2) {
    throw InvalidArgument(
        "invalid samples: " + std::to_string(options_.samples) +
        " (must be >= 2 to estimate a standard error)");
  }
  check_positive("max_batch", options_.max_batch);
  check_players(options_.players, options_.background);
}

PlayerAttribution PermutationShapley::explain(const torch::Tensor& x,
                                              const Target& target) const {
  auto solve = [&](Game& game) {
    at::Generator generator = make_generator(options_.seed);
    std::vector<int64_t> shape = {game.rows(), game.targets(), game.players()};
    torch::Tensor phi = torch::zeros(shape, torch::kFloat64);
    torch::Tensor se = torch::zeros(shape, torch::kFloat64);
    for (int64_t row = 0; row < game.rows(); ++row) {
      std::vector<int64_t> active = game.active(row);
      if (active.empty()) continue;
      PlayerEstimate e =
          permutation_row(game, row, active, options_.samples, generator);
      put_row(phi, row, e.values, active);
      put_row(se, row, e.errors, active);
    }
    return PlayerEstimate{phi, se};
  };
  return run_players(
      model_, x, target, options_.background, options_.players,
      options_.max_batch, "permutation",
      {{"background", background_str(options_.background)},
       {"players", players_str(options_.players, options_.background)},
       {"samples", std::to_string(options_.samples)},
       {"seed", std::to_string(options_.seed)},
       {"max_batch", std::to_string(options_.max_batch)}},
      solve);
}

std::string PermutationShapley::str() const {
  return "PermutationShapley(background=" +
         background_str(options_.background) +
         ", players=" + players_str(options_.players, options_.background) +
         ", samples=" + std::to_string(options_.samples) +
         ", seed=" + std::to_string(options_.seed) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

KernelShap::KernelShap(Model model, KernelShapOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_background(options_.background, /*required=*/true);
  if (options_.budget < 0) {
    throw InvalidArgument("invalid budget: " + std::to_string(options_.budget) +
                          " (must be >= 0; 0 means 2 * players + 2048)");
  }
  check_positive("max_batch", options_.max_batch);
  check_players(options_.players, options_.background);
}

PlayerAttribution KernelShap::explain(const torch::Tensor& x,
                                      const Target& target) const {
  auto solve = [&](Game& game) {
    at::Generator generator = make_generator(options_.seed);
    torch::Tensor phi = torch::zeros(
        {game.rows(), game.targets(), game.players()}, torch::kFloat64);
    for (int64_t row = 0; row < game.rows(); ++row) {
      std::vector<int64_t> active = game.active(row);
      if (active.empty()) continue;
      torch::Tensor values =
          kernel_row(game, row, active, options_.budget, generator);
      put_row(phi, row, values, active);
    }
    return PlayerEstimate{phi, {}};
  };
  std::string budget = options_.budget == 0 ? std::string("auto")
                                            : std::to_string(options_.budget);
  return run_players(
      model_, x, target, options_.background, options_.players,
      options_.max_batch, "kernelshap",
      {{"background", background_str(options_.background)},
       {"players", players_str(options_.players, options_.background)},
       {"budget", budget},
       {"seed", std::to_string(options_.seed)},
       {"max_batch", std::to_string(options_.max_batch)}},
      solve);
}

std::string KernelShap::str() const {
  std::string budget = options_.budget == 0 ? std::string("auto")
                                            : std::to_string(options_.budget);
  return "KernelShap(background=" + background_str(options_.background) +
         ", players=" + players_str(options_.players, options_.background) +
         ", budget=" + budget + ", seed=" + std::to_string(options_.seed) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

FeatureAblation::FeatureAblation(Model model, FeatureAblationOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_background(options_.background, /*required=*/false);
  check_positive("max_batch", options_.max_batch);
  check_players(options_.players, options_.background);
}

PlayerAttribution FeatureAblation::explain(const torch::Tensor& x,
                                           const Target& target) const {
  auto solve = [&](Game& game) {
    torch::Tensor phi = torch::zeros(
        {game.rows(), game.targets(), game.players()}, torch::kFloat64);
    std::vector<std::vector<int64_t>> actives(game.rows());
    Pool pool(game, options_.max_batch,
              [&](int64_t row, const torch::Tensor& v) {
                put_row(phi, row, game.full(row) - v, actives[row]);
              });

    // Per row: each active player left out.
    for (int64_t row = 0; row < game.rows(); ++row) {
      actives[row] = game.active(row);
      int64_t m = static_cast<int64_t>(actives[row].size());
      if (m == 0) continue;
      torch::Tensor keep = torch::ones({m, m}, torch::kBool);
      keep.fill_diagonal_(false);
      pool.add(row, game.widen(keep, actives[row]));
    }
    pool.flush();
    return PlayerEstimate{phi, {}};
  };
  return run_players(
      model_, x, target, options_.background, options_.players,
      options_.max_batch, "ablation",
      {{"background", background_str(options_.background)},
       {"players", players_str(options_.players, options_.background)},
       {"max_batch", std::to_string(options_.max_batch)}},
      solve);
}

std::string FeatureAblation::str() const {
  return "FeatureAblation(background=" + background_str(options_.background) +
         ", players=" + players_str(options_.players, options_.background) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

Occlusion::Occlusion(Model model, OcclusionOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  if (options_.window.empty()) {
    throw InvalidArgument(
        "invalid window: [] (give one size per trailing dimension, e.g. "
        "[4, 4])");
  }
  for (int64_t w : options_.window) {
    if (w < 1) {
      throw InvalidArgument("invalid window: " + shape_str(options_.window) +
                            " (every size must be >= 1)");
    }
  }
  if (options_.stride.empty()) options_.stride = options_.window;
  if (options_.stride.size() != options_.window.size()) {
    throw InvalidArgument("invalid stride: " + shape_str(options_.stride) +
                          " (must have one step per window dimension, " +
                          std::to_string(options_.window.size()) + ")");
  }
  for (int64_t s : options_.stride) {
    if (s < 1) {
      throw InvalidArgument("invalid stride: " + shape_str(options_.stride) +
                            " (every step must be >= 1)");
    }
  }
  check_background(options_.background, /*required=*/false);
  check_positive("max_batch", options_.max_batch);
}

Attribution Occlusion::attribute(const torch::Tensor& x_in,
                                 const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "occlusion";
  a.options = {{"window", shape_str(options_.window)},
               {"stride", shape_str(options_.stride)},
               {"background", background_str(options_.background)},
               {"max_batch", std::to_string(options_.max_batch)}};

  Batch batch = prepare_batch(model_, x_in, options_.background, target,
                              options_.max_batch, a);
  c10::IntArrayRef row_shape = batch.x.sizes().slice(1);
  int64_t dims = static_cast<int64_t>(options_.window.size());
  int64_t rank = static_cast<int64_t>(row_shape.size());
  bool fits = dims <= rank;
  for (int64_t d = 0; fits && d < dims; ++d) {
    fits = options_.window[d] <= row_shape[rank - dims + d];
  }
  if (!fits) {
    throw InvalidArgument(
        "invalid window: " + shape_str(options_.window) +
        " (must fit the input row's trailing dimensions of " +
        shape_str(row_shape.slice(std::max<int64_t>(0, rank - dims))) + ")");
  }

  // Each element is a player; a window removes the players it covers.
  torch::Tensor inside =
      window_masks(row_shape, options_.window, options_.stride);
  int64_t n = inside.size(1);
  Game game(model_, batch, torch::arange(n, torch::kInt64), n,
            options_.max_batch, a);
  // Window w hands element e the share 1 / (|w| cover(e)) of its drop.
  torch::Tensor covered = inside.to(torch::kFloat64);
  torch::Tensor window_size = covered.sum(1, /*keepdim=*/true);
  torch::Tensor cover = covered.sum(0);
  torch::Tensor spread = covered / window_size / cover;

  torch::Tensor values =
      torch::zeros({game.rows(), game.targets(), n}, torch::kFloat64);
  torch::Tensor keep = inside.logical_not();
  Pool pool(game, options_.max_batch, [&](int64_t row, const torch::Tensor& v) {
    torch::Tensor drop = game.full(row) - v;  // [W, T]
    values[row] = drop.t().matmul(spread);
  });
  for (int64_t row = 0; row < game.rows(); ++row) pool.add(row, keep);
  pool.flush();

  std::vector<int64_t> shape = batch.x.sizes().vec();
  shape.insert(shape.begin() + 1, game.targets());
  torch::ScalarType dtype = result_dtype(model_);
  a.values = values.reshape(shape).to(dtype);
  finish_outputs(a, batch, values.sum(2), dtype);
  a.seconds = watch.seconds();
  log_done(a, n, game.background_rows());
  return a;
}

std::string Occlusion::str() const {
  return "Occlusion(window=" + shape_str(options_.window) +
         ", stride=" + shape_str(options_.stride) +
         ", background=" + background_str(options_.background) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

}  // namespace xai
