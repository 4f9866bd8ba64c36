#include "xai/visualize/objective.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "xai/error.h"

namespace xai {
namespace {

using Kind = ObjectiveTerm::Kind;
using torch::Tensor;

[[noreturn]] void bad(const std::string& spec, const std::string& why) {
  throw InvalidArgument("invalid objective: " + spec + " (" + why + ")");
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  try {
    out = std::stoll(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  try {
    size_t used = 0;
    out = std::stod(s, &used);
    return used == s.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool valid_layer(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '.' && c != '@') {
      return false;
    }
  }
  return true;
}

const char* kSyntax =
    "expected <layer>:<channel>, neuron:<layer>:<channel>[@i,j], "
    "layer:<layer>, logit:<k>, diversity:<layer> or "
    "direction:<layer>:<v0>,<v1>,..., joined by + and -, each with an "
    "optional <weight>* in front";

// One term without its sign.
ObjectiveTerm parse_term(const std::string& spec, const std::string& text) {
  ObjectiveTerm t;
  std::string body = text;
  auto star = text.find('*');
  if (star != std::string::npos) {
    if (!parse_double(text.substr(0, star), t.weight)) bad(spec, kSyntax);
    body = text.substr(star + 1);
  }
  auto parts = split(body, ':');
  const std::string& head = parts[0];
  if (parts.size() == 2 && head == "layer" && valid_layer(parts[1])) {
    t.kind = Kind::kLayer;
    t.layer = parts[1];
  } else if (parts.size() == 2 && head == "diversity" &&
             valid_layer(parts[1])) {
    t.kind = Kind::kDiversity;
    t.layer = parts[1];
  } else if (parts.size() == 2 && head == "logit") {
    t.kind = Kind::kLogit;
    t.layer = "output";
    if (!parse_int(parts[1], t.channel)) bad(spec, kSyntax);
  } else if (parts.size() == 3 && head == "neuron" &&
             valid_layer(parts[1].substr(0, parts[1].find('@')))) {
    t.kind = Kind::kNeuron;
    t.layer = parts[1];
    auto at = parts[2].find('@');
    if (!parse_int(parts[2].substr(0, at), t.channel)) bad(spec, kSyntax);
    if (at != std::string::npos) {
      for (const auto& p : split(parts[2].substr(at + 1), ',')) {
        int64_t v = 0;
        if (!parse_int(p, v)) bad(spec, kSyntax);
        t.position.push_back(v);
      }
    }
  } else if (parts.size() == 3 && head == "direction" &&
             valid_layer(parts[1])) {
    t.kind = Kind::kDirection;
    t.layer = parts[1];
    std::vector<double> values;
    for (const auto& p : split(parts[2], ',')) {
      double v = 0;
      if (!parse_double(p, v)) bad(spec, kSyntax);
      values.push_back(v);
    }
    t.direction = torch::tensor(values, torch::kFloat64);
  } else if (parts.size() == 2 && valid_layer(head)) {
    t.kind = Kind::kChannel;
    t.layer = head;
    if (!parse_int(parts[1], t.channel)) bad(spec, kSyntax);
  } else {
    bad(spec, kSyntax);
  }
  return t;
}

std::string term_str(const ObjectiveTerm& t) {
  std::ostringstream out;
  switch (t.kind) {
    case Kind::kNeuron:
      out << "neuron:" << t.layer << ":" << t.channel;
      for (size_t i = 0; i < t.position.size(); ++i) {
        out << (i ? "," : "@") << t.position[i];
      }
      break;
    case Kind::kChannel:
      out << t.layer << ":" << t.channel;
      break;
    case Kind::kLayer:
      out << "layer:" << t.layer;
      break;
    case Kind::kLogit:
      out << "logit:" << t.channel;
      break;
    case Kind::kDiversity:
      out << "diversity:" << t.layer;
      break;
    case Kind::kDirection: {
      out << "direction:" << t.layer << ":";
      auto d = t.direction.to(torch::kFloat64).contiguous();
      for (int64_t i = 0; i < d.numel(); ++i) {
        out << (i ? "," : "") << d[i].item<double>();
      }
      break;
    }
  }
  return out.str();
}

// Mean over every dimension but the first; [batch] stays as it is.
Tensor mean_positions(const Tensor& a) {
  return a.dim() == 1 ? a : a.flatten(1).mean(1);
}

Tensor gram_diversity(const Tensor& layer) {
  int64_t b = layer.size(0);
  Tensor f = layer.dim() == 2 ? layer.unsqueeze(2) : layer.flatten(2);
  Tensor gram = torch::bmm(f, f.transpose(1, 2)).flatten(1);
  Tensor g = gram / gram.norm(2, 1, true).clamp_min(1e-12);
  Tensor sim = torch::mm(g, g.t());
  if (b < 2) return torch::zeros({b}, layer.options());
  Tensor others = sim.sum(1) - sim.diagonal();
  return -others / static_cast<double>(b - 1);
}

}  // namespace

Objective Objective::neuron(const std::string& layer, int64_t channel,
                            std::vector<int64_t> position) {
  ObjectiveTerm t;
  t.kind = Kind::kNeuron;
  t.layer = layer;
  t.channel = channel;
  t.position = std::move(position);
  return Objective(t);
}

Objective Objective::channel(const std::string& layer, int64_t channel) {
  ObjectiveTerm t;
  t.kind = Kind::kChannel;
  t.layer = layer;
  t.channel = channel;
  return Objective(t);
}

Objective Objective::layer(const std::string& layer) {
  ObjectiveTerm t;
  t.kind = Kind::kLayer;
  t.layer = layer;
  return Objective(t);
}

Objective Objective::logit(int64_t index) {
  ObjectiveTerm t;
  t.kind = Kind::kLogit;
  t.layer = "output";
  t.channel = index;
  return Objective(t);
}

Objective Objective::direction(const std::string& layer, Tensor dir) {
  ObjectiveTerm t;
  t.kind = Kind::kDirection;
  t.layer = layer;
  t.direction = dir.detach().to(torch::kCPU, torch::kFloat64).flatten();
  return Objective(t);
}

Objective Objective::diversity(const std::string& layer) {
  ObjectiveTerm t;
  t.kind = Kind::kDiversity;
  t.layer = layer;
  return Objective(t);
}

Objective Objective::parse(const std::string& spec) {
  std::string s;
  for (char c : spec) {
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  }
  if (s.empty()) bad("''", "empty; " + std::string(kSyntax));

  // A + or - separates terms unless it is the sign of a number inside a
  // term (after ',', ':', '*', '@' or the 'e' of an exponent).
  Objective result;
  size_t start = 0;
  double sign = 1.0;
  auto flush = [&](size_t end) {
    if (end == start) bad(spec, kSyntax);
    ObjectiveTerm t = parse_term(spec, s.substr(start, end - start));
    t.weight *= sign;
    result.terms_.push_back(t);
  };
  if (s[0] == '+' || s[0] == '-') {
    sign = s[0] == '-' ? -1.0 : 1.0;
    start = 1;
  }
  for (size_t i = start; i < s.size(); ++i) {
    if (s[i] != '+' && s[i] != '-') continue;
    char prev = s[i - 1];
    bool exponent = (prev == 'e' || prev == 'E') && i >= 2 &&
                    (std::isdigit(static_cast<unsigned char>(s[i - 2])) ||
                     s[i - 2] == '.');
    if (prev == ',' || prev == ':' || prev == '*' || prev == '@' ||
        exponent) {
      continue;
    }
    flush(i);
    sign = s[i] == '-' ? -1.0 : 1.0;
    start = i + 1;
  }
  flush(s.size());
  return result;
}

Objective Objective::operator+(const Objective& other) const {
  Objective r = *this;
  r.terms_.insert(r.terms_.end(), other.terms_.begin(), other.terms_.end());
  return r;
}

Objective Objective::operator-(const Objective& other) const {
  return *this + (-other);
}

Objective Objective::operator-() const { return *this * -1.0; }

Objective Objective::operator*(double weight) const {
  Objective r = *this;
  for (auto& t : r.terms_) t.weight *= weight;
  return r;
}

std::vector<std::string> Objective::layers() const {
  std::vector<std::string> names;
  for (const auto& t : terms_) {
    if (std::find(names.begin(), names.end(), t.layer) == names.end()) {
      names.push_back(t.layer);
    }
  }
  return names;
}

void Objective::check(
    const std::map<std::string, std::vector<int64_t>>& shapes) const {
  if (terms_.empty()) bad("''", "no terms");
  for (const auto& t : terms_) {
    const auto& shape = shapes.at(t.layer);
    std::string name = t.kind == Kind::kLogit ? "the model" : t.layer;
    int64_t channels = shape.size() >= 2 ? shape[1] : 1;
    if (t.kind == Kind::kLayer || t.kind == Kind::kDiversity) continue;
    if (t.kind == Kind::kDirection) {
      if (t.direction.numel() != channels) {
        bad(str(), "direction has " + std::to_string(t.direction.numel()) +
                       " values; " + name + " has " +
                       std::to_string(channels) + " channels");
      }
      continue;
    }
    if (t.channel >= channels) {
      std::string what = t.kind == Kind::kLogit ? "logit" : "channel";
      std::string unit = t.kind == Kind::kLogit ? " outputs" : " channels";
      bad(str(), what + " " + std::to_string(t.channel) +
                     " out of range: " + name + " has " +
                     std::to_string(channels) + unit);
    }
    if (t.kind != Kind::kNeuron || t.position.empty()) continue;
    size_t rank = shape.size() > 2 ? shape.size() - 2 : 0;
    if (t.position.size() != rank) {
      bad(str(), "position has " + std::to_string(t.position.size()) +
                     " coordinates; " + name + " has " +
                     std::to_string(rank) + " positional dimensions");
    }
    for (size_t i = 0; i < rank; ++i) {
      if (t.position[i] >= shape[i + 2]) {
        bad(str(), "position out of range: " + name + " has size " +
                       std::to_string(shape[i + 2]) + " in dimension " +
                       std::to_string(i + 2));
      }
    }
  }
}

Tensor Objective::evaluate(const std::map<std::string, Tensor>& layers,
                           bool with_diversity) const {
  Tensor total;
  for (const auto& t : terms_) {
    const Tensor& a = layers.at(t.layer);
    Tensor v;
    switch (t.kind) {
      case Kind::kChannel:
      case Kind::kLogit:
        v = a.dim() == 1 ? a : mean_positions(a.select(1, t.channel));
        break;
      case Kind::kNeuron: {
        Tensor n = a.dim() == 1 ? a : a.select(1, t.channel);
        for (int64_t d = 1; n.dim() > 1; ++d) {
          int64_t i = t.position.empty() ? n.size(1) / 2
                                         : t.position[d - 1];
          n = n.select(1, i);
        }
        v = n;
        break;
      }
      case Kind::kLayer:
        v = a.pow(2).flatten(1).sum(1);
        break;
      case Kind::kDirection: {
        std::vector<int64_t> shape(a.dim(), 1);
        shape[1] = a.size(1);
        Tensor d = t.direction.to(a.options()).reshape(shape);
        v = mean_positions((a * d).sum(1, true));
        break;
      }
      case Kind::kDiversity:
        if (!with_diversity) continue;
        v = gram_diversity(a);
        break;
    }
    v = v * t.weight;
    total = total.defined() ? total + v : v;
  }
  if (!total.defined()) {
    const Tensor& any = layers.begin()->second;
    total = torch::zeros({any.size(0)}, any.options());
  }
  return total;
}

std::string Objective::str() const {
  std::string out;
  for (const auto& t : terms_) {
    double w = t.weight;
    bool neg = w < 0;
    if (!out.empty()) out += neg ? "-" : "+";
    if (out.empty() && neg) out += "-";
    double mag = std::abs(w);
    if (mag != 1.0) {
      std::ostringstream num;
      num << mag;
      out += num.str() + "*";
    }
    out += term_str(t);
  }
  return out;
}

}  // namespace xai
