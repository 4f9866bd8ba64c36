// xai-visualize: activation maximization of any named layer of a
// TorchScript model.

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app_common.h"
#include "xai/error.h"
#include "xai/io/data.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"
#include "xai/model.h"
#include "xai/visualize/visualize.h"

namespace {

struct Args {
  std::string model;
  std::vector<std::string> objectives;
  std::string input_shape;
  int64_t batch = 1;
  int64_t steps = 512;
  double lr = 0.05;
  std::string param;
  uint64_t seed = 0;
  std::string data;
  std::string label_column;
  std::vector<double> mean, std;
  int64_t top = 4;
  std::string device = "cpu";
  std::string out;
};

void run(const Args& a) {
  xai::app::check_output_dir(a.out);
  std::vector<xai::Objective> objectives;
  for (const auto& spec : a.objectives) {
    objectives.push_back(xai::Objective::parse(spec));
  }
  xai::Model model = xai::Model::load(a.model, a.device);
  xai::VisualizeOptions o;
  if (!a.input_shape.empty())
    o.row_shape = xai::app::parse_shape(a.input_shape, "--input-shape");
  o.batch = a.batch;
  o.steps = a.steps;
  o.lr = a.lr;
  o.seed = a.seed;
  o.mean = a.mean;
  o.std = a.std;
  if (!a.param.empty()) o.param = xai::param_kind_from_string(a.param);
  torch::Tensor data;
  if (!a.data.empty()) {
    xai::LoadOptions load;
    load.label_column = a.label_column;
    data = xai::load_data(a.data, load).x;
    if (data.dim() == 2) {  // vectors stay inside each feature's range
      o.feature_lo = std::get<0>(data.min(0));
      o.feature_hi = std::get<0>(data.max(0));
    }
  }
  bool tty = isatty(2);
  o.progress = [&](const xai::VisualizeProgress& p) {
    if (p.step % std::max<int64_t>(1, p.steps / 8) && p.step != p.steps) {
      return;
    }
    std::cerr << (tty ? "\r" : "") << "step " << p.step << "/" << p.steps
              << "  loss " << p.loss << (tty && p.step < p.steps ? "" : "\n")
              << std::flush;
  };
  xai::Visualizer vis(model, objectives, o);
  if (o.param == xai::ParamKind::kFourier && !a.param.empty() &&
      !vis.is_image()) {
    throw xai::InvalidArgument(
        "invalid --param: fft (needs image inputs "
        "[channels, height, width]; use pixel)");
  }
  xai::Visualization r = vis.run();

  // Everything is computed before the first file is written.
  std::map<std::string, std::string> files;
  nlohmann::json result;
  result["model"] = {{"path", a.model}, {"sha256", model.sha256()}};
  result["visualizer"] = vis.str();
  result["seconds"] = r.seconds;
  int64_t n = objectives.size();
  torch::Tensor best, order;
  if (data.defined()) {
    torch::Tensor v = vis.evaluate(data);
    best = std::get<0>(v.max(1));
    order = v.argsort(1, /*descending=*/true);
  }
  double lo = o.lo, hi = o.hi;
  for (int64_t i = 0; i < n; ++i) {
    nlohmann::json obj;
    obj["objective"] = objectives[i].str();
    for (const auto& s : r.snapshots) {
      std::vector<double> v(s.values.size(1));
      for (size_t j = 0; j < v.size(); ++j)
        v[j] = s.values[i][j].item<double>();
      obj["snapshots"].push_back({{"step", s.step}, {"activation", v}});
    }
    std::vector<double> reached(a.batch);
    for (int64_t j = 0; j < a.batch; ++j) {
      reached[j] = r.values[i][j].item<double>();
      if (vis.is_image()) {
        files["vis_" + std::to_string(i) + "_" + std::to_string(j) + ".png"] =
            xai::png_grid(r.inputs[i].slice(0, j, j + 1), 1, lo, hi);
      }
    }
    obj["activation"] = reached;
    if (data.defined()) {
      double b = best[i].item<double>();
      obj["dataset_max"] = b;
      std::vector<double> ratio;
      for (double v : reached) ratio.push_back(b != 0 ? v / b : 0.0);
      obj["ratio"] = ratio;
      int64_t k = std::min<int64_t>(a.top, data.size(0));
      torch::Tensor idx = order[i].slice(0, 0, k);
      std::vector<int64_t> rows(idx.data_ptr<int64_t>(),
                                idx.data_ptr<int64_t>() + k);
      obj["top_rows"] = rows;
      if (vis.is_image()) {
        files["top_" + std::to_string(i) + ".png"] =
            xai::png_grid(data.index_select(0, idx), k, lo, hi);
      }
    }
    result["objectives"].push_back(obj);
  }
  if (vis.is_image()) {
    auto shape = r.inputs.sizes().vec();
    std::vector<int64_t> flat = {n * a.batch};
    flat.insert(flat.end(), shape.begin() + 2, shape.end());
    files["grid.png"] = xai::png_grid(
        r.inputs.reshape(flat), n * a.batch <= 10 ? n * a.batch : 10, lo, hi);
  }
  files["inputs.npy"] = xai::npy_bytes(r.inputs);
  files["result.json"] = result.dump(2) + "\n";

  std::filesystem::create_directories(a.out);
  for (const auto& [name, bytes] : files) {
    xai::write_file_atomic((std::filesystem::path(a.out) / name).string(),
                           bytes);
  }
  for (int64_t i = 0; i < n; ++i) {
    std::cout << objectives[i].str() << ": activation "
              << r.values[i].max().item<double>();
    if (data.defined()) {
      std::cout << " (dataset max " << best[i].item<double>() << ")";
    }
    std::cout << "\n";
  }
  std::cout << "wrote " << files.size() << " files to " << a.out << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Finds inputs that maximize objectives on named layers of a "
      "TorchScript\nmodel (activation maximization).",
      "xai-visualize"};
  Args args;
  xai::app::LoggingFlags logging;
  app.add_option("--model", args.model, "TorchScript model file")->required();
  app.add_option("--objective", args.objectives,
                 "conv2:5, -conv1:2, conv2:5+0.5*conv2:7, layer:conv2, "
                 "logit:7, neuron:conv2:5@3,4, diversity:conv2 (repeat for "
                 "several)")
      ->required();
  app.add_option("--input-shape", args.input_shape,
                 "shape of one input row, e.g. 1,28,28");
  app.add_option("--batch", args.batch, "inputs per objective")
      ->capture_default_str();
  app.add_option("--steps", args.steps, "Adam steps")->capture_default_str();
  app.add_option("--lr", args.lr, "Adam learning rate")->capture_default_str();
  app.add_option("--param", args.param,
                 "pixel or fft (default: fft for images, else pixel)")
      ->check(CLI::IsMember({"pixel", "fft"}));
  app.add_option("--seed", args.seed, "seed")->capture_default_str();
  app.add_option("--data", args.data,
                 "data file: per-feature range of vectors, and the highest "
                 "activation over its rows");
  app.add_option("--label-column", args.label_column, "CSV label column");
  app.add_option("--mean", args.mean, "per-channel mean the model expects")
      ->delimiter(',');
  app.add_option("--std", args.std, "per-channel std the model expects")
      ->delimiter(',');
  app.add_option("--top", args.top, "dataset examples saved per objective")
      ->capture_default_str();
  app.add_option("--device", args.device, "cpu, cuda, cuda:N or auto")
      ->capture_default_str();
  app.add_option("--out", args.out, "output directory")->required();
  xai::app::add_logging_flags(app, logging);
  app.footer(xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(args); });
}
