#include "xai/attack/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "plot/canvas.h"
#include "text.h"
#include "xai/error.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"
#include "xai/plot/plot.h"
#include "xai/version.h"

namespace xai {
namespace {

using Json = nlohmann::ordered_json;

NormSummary summary_of(const torch::Tensor& v) {
  NormSummary s;
  if (v.numel() == 0) return s;
  s.mean = v.mean().item<double>();
  s.max = v.max().item<double>();
  // The median of an even count is the mean of the two middle values.
  torch::Tensor sorted = std::get<0>(v.sort());
  int64_t n = sorted.numel();
  s.median =
      n % 2 == 1
          ? sorted[n / 2].item<double>()
          : (sorted[n / 2 - 1].item<double>() + sorted[n / 2].item<double>()) /
                2;
  return s;
}

Json to_json(const NormSummary& s) {
  return {{"mean", s.mean}, {"median", s.median}, {"max", s.max}};
}

Json to_json(const PerturbationSummary& p) {
  return {{"rows", p.rows},
          {"l0", to_json(p.l0)},
          {"l2", to_json(p.l2)},
          {"linf", to_json(p.linf)}};
}

// A bound as a number when it is one value, else as a list.
Json bound_json(const torch::Tensor& b, double fallback) {
  if (!b.defined()) return fallback;
  torch::Tensor f = b.detach().to(torch::kCPU, torch::kFloat64).flatten();
  if (f.numel() == 1) return f[0].item<double>();
  std::vector<double> values(f.data_ptr<double>(),
                             f.data_ptr<double>() + f.numel());
  return values;
}

Json run_json(const torch::Tensor& x, const AttackRun& run) {
  const AttackResult& r = run.result;
  RobustnessNumbers n = robustness_numbers(x, r);
  Json stages = Json::array();
  for (const auto& [name, accuracy] : r.stages) {
    stages.push_back({{"name", name}, {"accuracy", accuracy}});
  }
  Json warnings = r.warnings;
  for (const auto& note : run.notes) warnings.push_back(note);

  torch::Tensor d = (r.adversarial.detach().to(torch::kCPU, torch::kFloat64) -
                     x.detach().to(torch::kCPU, torch::kFloat64))
                        .flatten(1);
  torch::Tensor l0 = d.ne(0).sum(1), l2 = d.norm(2, 1), linf = d.abs().amax(1);
  Json samples = Json::array();
  for (int64_t i = 0; i < r.labels.size(0); ++i) {
    int64_t target = r.targets[i].item<int64_t>();
    samples.push_back(
        {{"index", i},
         {"label", r.labels[i].item<int64_t>()},
         {"target", target < 0 ? Json(nullptr) : Json(target)},
         {"clean_prediction", r.clean_predictions[i].item<int64_t>()},
         {"adversarial_prediction", r.predictions[i].item<int64_t>()},
         {"success", r.success[i].item<bool>()},
         {"l0", l0[i].item<int64_t>()},
         {"l2", l2[i].item<double>()},
         {"linf", linf[i].item<double>()}});
  }
  return {{"eps", run.eps},
          {"adversarial_file", run.adversarial_file},
          {"clean_accuracy", n.clean_accuracy},
          {"robust_accuracy", n.robust_accuracy},
          {"success_rate", n.success_rate},
          {"stages", stages},
          {"perturbations_of_successful_rows", to_json(n.successful)},
          {"timings",
           {{"seconds", r.seconds},
            {"forward_passes", r.forward_passes},
            {"backward_passes", r.backward_passes},
            {"model_evaluations", r.model_evaluations}}},
          {"warnings", warnings},
          {"samples", samples}};
}

std::string eps_suffix(double eps) { return "_eps" + detail::number_str(eps); }

// An image row [C, H, W] (C 1 or 3) as RGBA bytes, `scale` times larger,
// values mapped by `to_unit` into [0, 1].
template <typename Fn>
void paint(plotting::Pixels& out, const torch::Tensor& image, int64_t left,
           int64_t scale, Fn&& to_unit) {
  torch::Tensor rgb = image.size(0) == 1 ? image.expand({3, -1, -1}) : image;
  rgb = to_unit(rgb.to(torch::kFloat64)).clamp(0, 1).contiguous();
  auto a = rgb.accessor<double, 3>();
  for (int64_t y = 0; y < rgb.size(1) * scale; ++y) {
    for (int64_t x = 0; x < rgb.size(2) * scale; ++x) {
      size_t at = 4 * (static_cast<size_t>(y) * out.width + left + x);
      for (int c = 0; c < 3; ++c) {
        out.rgba[at + c] =
            static_cast<uint8_t>(std::lround(255 * a[c][y / scale][x / scale]));
      }
      out.rgba[at + 3] = 255;
    }
  }
}

// Original | adversarial | amplified difference, side by side.
std::string sample_png(const torch::Tensor& original,
                       const torch::Tensor& adversarial,
                       const torch::Tensor& lo, const torch::Tensor& hi) {
  const int64_t h = original.size(1), w = original.size(2);
  const int64_t scale = std::max<int64_t>(1, 112 / std::max(h, w));
  const int64_t gap = 4;
  plotting::Pixels p;
  p.width = static_cast<int>(3 * w * scale + 2 * gap);
  p.height = static_cast<int>(h * scale);
  p.rgba.assign(static_cast<size_t>(p.width) * p.height * 4, 255);

  torch::Tensor l = lo.to(torch::kFloat64), u = hi.to(torch::kFloat64);
  auto unit = [&](const torch::Tensor& v) {
    return (v - l) / (u - l).clamp_min(1e-12);
  };
  torch::Tensor d =
      adversarial.to(torch::kFloat64) - original.to(torch::kFloat64);
  double amp = std::max(d.abs().max().item<double>(), 1e-12);
  paint(p, original, 0, scale, unit);
  paint(p, adversarial, w * scale + gap, scale, unit);
  paint(p, d, 2 * (w * scale + gap), scale,
        [&](const torch::Tensor& v) { return 0.5 + v / (2 * amp); });
  return plotting::png_bytes(p);
}

}  // namespace

PerturbationSummary summarize_perturbations(const torch::Tensor& x,
                                            const torch::Tensor& adversarial,
                                            const torch::Tensor& rows) {
  torch::Tensor keep = rows.to(torch::kCPU, torch::kBool);
  torch::Tensor d = (adversarial.detach().to(torch::kCPU, torch::kFloat64) -
                     x.detach().to(torch::kCPU, torch::kFloat64))
                        .flatten(1)
                        .index({keep});
  PerturbationSummary s;
  s.rows = d.size(0);
  s.l0 = summary_of(d.ne(0).sum(1).to(torch::kFloat64));
  s.l2 = summary_of(d.norm(2, 1));
  s.linf = summary_of(d.abs().amax(1));
  return s;
}

RobustnessNumbers robustness_numbers(const torch::Tensor& x,
                                     const AttackResult& r) {
  RobustnessNumbers n;
  n.clean_accuracy = r.clean_accuracy();
  n.robust_accuracy = r.robust_accuracy();
  torch::Tensor eligible = r.targets.ge(0).any().item<bool>()
                               ? r.targets.ne(r.labels)
                               : r.clean_predictions.eq(r.labels);
  int64_t count = eligible.sum().item<int64_t>();
  if (count > 0) {
    n.success_rate =
        static_cast<double>(
            r.success.logical_and(eligible).sum().item<int64_t>()) /
        static_cast<double>(count);
  }
  n.successful = summarize_perturbations(x, r.adversarial, r.success);
  return n;
}

std::string weaker_attack_note(const AttackResult& strong,
                               const AttackResult& weak,
                               const std::string& strong_name,
                               const std::string& weak_name) {
  torch::Tensor only_weak =
      weak.success.logical_and(strong.success.logical_not());
  int64_t count = only_weak.sum().item<int64_t>();
  if (count == 0) return "";
  return weak_name + " succeeded on " + std::to_string(count) + " rows where " +
         strong_name + " failed (first: row " +
         std::to_string(only_weak.nonzero()[0][0].item<int64_t>()) +
         "): the stronger attack is not converging; try more steps, "
         "restarts or another loss";
}

std::string attack_report_json(const AttackReportMeta& meta,
                               const torch::Tensor& x,
                               const std::vector<AttackRun>& runs) {
  Json j = Json::object();
  j["libxai_version"] = XAI_VERSION;
  j["model"] = {{"path", meta.model_path}, {"sha256", meta.model_sha256}};
  j["input"] = meta.input_path;
  j["labels"] = meta.labels_path;
  j["device"] = meta.device;
  j["rows"] = x.size(0);
  j["attack"] = meta.attack;
  j["attack_settings"] = meta.attack_str;
  j["norm"] = to_string(meta.threat.norm);
  j["targeting"] = meta.threat.targeting.str();
  j["bounds"] = {{"lo", bound_json(meta.threat.lo, 0.0)},
                 {"hi", bound_json(meta.threat.hi, 1.0)}};
  j["normalization"] =
      meta.threat.mean.empty()
          ? Json(nullptr)
          : Json({{"mean", meta.threat.mean}, {"std", meta.threat.std}});
  j["seed"] = meta.threat.seed;
  j["max_batch"] = meta.threat.max_batch;
  j["clean_accuracy"] =
      runs.empty() ? 0.0 : runs.front().result.clean_accuracy();

  Json all = Json::array(), table = Json::array();
  double worst = 1.0;
  for (const auto& run : runs) {
    all.push_back(run_json(x, run));
    double accuracy = run.result.robust_accuracy();
    table.push_back({{"eps", run.eps}, {"robust_accuracy", accuracy}});
    worst = std::min(worst, accuracy);
  }
  j["worst_case_accuracy"] = runs.empty() ? Json(nullptr) : Json(worst);
  j["accuracy_vs_eps"] = table;
  j["total_seconds"] = meta.total_seconds;
  j["runs"] = all;
  return j.dump(1) + "\n";
}

void write_attack_report(const std::string& dir, const AttackReportMeta& meta,
                         const torch::Tensor& x, std::vector<AttackRun>& runs,
                         int64_t images) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw IoError("cannot create directory " + dir + ": " + error.message());
  }
  const bool several = runs.size() > 1;
  const bool pictures = x.dim() == 4 && (x.size(1) == 1 || x.size(1) == 3);
  torch::Tensor lo = meta.threat.lo.defined()
                         ? meta.threat.lo.to(torch::kCPU, torch::kFloat64)
                         : torch::zeros({}, torch::kFloat64);
  torch::Tensor hi = meta.threat.hi.defined()
                         ? meta.threat.hi.to(torch::kCPU, torch::kFloat64)
                         : torch::ones({}, torch::kFloat64);
  torch::Tensor clean = x.detach().cpu();

  // Every target is checked before anything is written.
  std::vector<std::string> targets = {dir + "/report.json",
                                      dir + "/accuracy_vs_eps.png"};
  for (const auto& run : runs) {
    std::string suffix = several ? eps_suffix(run.eps) : "";
    targets.push_back(dir + "/adversarial" + suffix + ".npy");
    for (int64_t i = 0; pictures && i < std::min(images, x.size(0)); ++i) {
      targets.push_back(dir + "/sample_" + std::to_string(i) + suffix + ".png");
    }
  }
  check_replaceable(targets);

  for (auto& run : runs) {
    std::string suffix = several ? eps_suffix(run.eps) : "";
    run.adversarial_file = "adversarial" + suffix + ".npy";
    save_npy(dir + "/" + run.adversarial_file, run.result.adversarial);
    if (!pictures) continue;
    torch::Tensor adv = run.result.adversarial.detach().cpu();
    for (int64_t i = 0; i < std::min(images, x.size(0)); ++i) {
      write_file_atomic(dir + "/sample_" + std::to_string(i) + suffix + ".png",
                        sample_png(clean[i], adv[i], lo, hi));
    }
  }

  if (several) {
    CurveData curve;
    curve.x_label = "eps (" + to_string(meta.threat.norm) + ")";
    curve.y_label = "accuracy";
    curve.title = meta.attack + ": accuracy against eps";
    curve.y_lo = 0.0;
    curve.y_hi = 1.0;
    std::vector<double> robust;
    for (const auto& run : runs) {
      curve.x.push_back(run.eps);
      robust.push_back(run.result.robust_accuracy());
    }
    curve.series.push_back({"robust accuracy", robust});
    curve.series.push_back(
        {"clean accuracy",
         std::vector<double>(runs.size(), runs[0].result.clean_accuracy())});
    plot_curve(curve, {}, dir + "/accuracy_vs_eps.png");
  }
  write_file_atomic(dir + "/report.json", attack_report_json(meta, x, runs));
}

}  // namespace xai
