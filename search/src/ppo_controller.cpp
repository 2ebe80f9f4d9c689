#include "effscale/search/ppo_controller.h"

#include <torch/torch.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "effscale/models/random_streams.h"

namespace effscale::search {
namespace {

using nlohmann::json;

// The policy: token embeddings (one table per decision, plus a start token), an LSTM cell, one head per
// decision. Decision d reads the embedding of decision d - 1's token.
class PolicyImpl : public torch::nn::Module {
 public:
  PolicyImpl(const std::vector<int>& counts, int embedding, int hidden) : counts_(counts) {
    start_ = register_parameter("start", torch::zeros({1, embedding}));
    cell_ = register_module("cell", torch::nn::LSTMCell(embedding, hidden));
    for (size_t d = 0; d < counts.size(); ++d) {
      heads_.push_back(register_module("head" + std::to_string(d), torch::nn::Linear(hidden, counts[d])));
      embeddings_.push_back(register_module("embed" + std::to_string(d), torch::nn::Embedding(counts[d], embedding)));
    }
  }

  // Logits of every decision for a batch of candidates [B, D] (teacher forcing); a list of [B, count_d].
  std::vector<torch::Tensor> logits(const torch::Tensor& tokens) {
    const int64_t batch = tokens.size(0);
    torch::Tensor input = start_.expand({batch, start_.size(1)});
    std::tuple<torch::Tensor, torch::Tensor> state = {torch::zeros({batch, cell_->options.hidden_size()}),
                                                      torch::zeros({batch, cell_->options.hidden_size()})};
    std::vector<torch::Tensor> out;
    for (size_t d = 0; d < counts_.size(); ++d) {
      state = cell_->forward(input, state);
      out.push_back(heads_[d]->forward(std::get<0>(state)));
      input = embeddings_[d]->forward(tokens.select(1, static_cast<int64_t>(d)));
    }
    return out;
  }

  // Samples one candidate with `generator`.
  std::vector<int> sample(at::Generator& generator) {
    torch::NoGradGuard no_grad;
    torch::Tensor input = start_;
    std::tuple<torch::Tensor, torch::Tensor> state = {torch::zeros({1, cell_->options.hidden_size()}),
                                                      torch::zeros({1, cell_->options.hidden_size()})};
    std::vector<int> tokens;
    for (size_t d = 0; d < counts_.size(); ++d) {
      state = cell_->forward(input, state);
      const torch::Tensor probs = torch::softmax(heads_[d]->forward(std::get<0>(state)), 1);
      const int64_t token = torch::multinomial(probs, 1, false, generator).item<int64_t>();
      tokens.push_back(static_cast<int>(token));
      input = embeddings_[d]->forward(torch::tensor({token}, torch::kLong));
    }
    return tokens;
  }

 private:
  std::vector<int> counts_;
  torch::Tensor start_;
  torch::nn::LSTMCell cell_{nullptr};
  std::vector<torch::nn::Linear> heads_;
  std::vector<torch::nn::Embedding> embeddings_;
};
TORCH_MODULE(Policy);

// Log-probabilities of the tokens and the mean entropy under the current policy.
std::pair<torch::Tensor, torch::Tensor> log_prob_and_entropy(Policy& policy, const torch::Tensor& tokens) {
  torch::Tensor log_prob = torch::zeros({tokens.size(0)});
  torch::Tensor entropy = torch::zeros({});
  const std::vector<torch::Tensor> logits = policy->logits(tokens);
  for (size_t d = 0; d < logits.size(); ++d) {
    const torch::Tensor lp = torch::log_softmax(logits[d], 1);
    log_prob = log_prob + lp.gather(1, tokens.select(1, static_cast<int64_t>(d)).unsqueeze(1)).squeeze(1);
    entropy = entropy - (lp.exp() * lp).sum(1).mean();
  }
  return {log_prob, entropy};
}

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Bytes as base64 text, so the state survives a trip through JSON text (the study database).
std::string base64_encode(const std::string& bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) out += kBase64[(buffer >> (bits -= 6)) & 63];
  }
  if (bits > 0) out += kBase64[(buffer << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

std::string base64_decode(const std::string& text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char* p = std::strchr(kBase64, c);
    if (p == nullptr || c == 0) throw std::invalid_argument("controller state: damaged base64 text");
    buffer = (buffer << 6) | uint32_t(p - kBase64);
    bits += 6;
    if (bits >= 8) out += static_cast<char>((buffer >> (bits -= 8)) & 255);
  }
  return out;
}

std::string to_text(torch::serialize::OutputArchive& archive) {
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

class PpoController : public Controller {
 public:
  PpoController(std::vector<int> counts, uint64_t seed, PpoOptions options)
      : counts_(std::move(counts)), options_(options), generator_(at::detail::createCPUGenerator(seed)) {
    {
      // The policy's initial weights come from the global generator: seed it and build under the lock, so
      // that models built by worker threads meanwhile take no draws in between.
      std::lock_guard<std::recursive_mutex> lock(models::global_generator_mutex());
      torch::manual_seed(static_cast<int64_t>(seed));
      policy_ = Policy(counts_, options_.embedding, options_.hidden);
    }
    optimizer_ = std::make_unique<torch::optim::Adam>(policy_->parameters(), torch::optim::AdamOptions(options_.learning_rate));
  }

  Candidate ask() override { return policy_->sample(generator_); }

  void tell(const Candidate& candidate, double reward) override {
    buffer_.push_back({candidate, reward});
    if (static_cast<int>(buffer_.size()) >= options_.batch) update();
  }

  json state() const override {
    torch::serialize::OutputArchive policy_archive, optimizer_archive;
    policy_->save(policy_archive);
    optimizer_->save(optimizer_archive);
    json buffer = json::array();
    for (const auto& [c, r] : buffer_) buffer.push_back({{"candidate", c}, {"reward", r}});
    const torch::Tensor rng = generator_.get_state();
    return {{"kind", "ppo"},
            {"counts", counts_},
            {"baseline", baseline_},
            {"has_baseline", has_baseline_},
            {"buffer", buffer},
            {"policy", base64_encode(to_text(policy_archive))},
            {"optimizer", base64_encode(to_text(optimizer_archive))},
            {"rng", base64_encode(std::string(reinterpret_cast<const char*>(rng.data_ptr<uint8_t>()), size_t(rng.numel())))}};
  }

  void load_state(const json& s) override {
    if (s.value("kind", "") != "ppo" || s.value("counts", std::vector<int>{}) != counts_)
      throw std::invalid_argument("controller state is for another controller or search space");
    try {
      torch::serialize::InputArchive policy_archive, optimizer_archive;
      load_archive(policy_archive, s.at("policy"));
      policy_->load(policy_archive);
      load_archive(optimizer_archive, s.at("optimizer"));
      optimizer_->load(optimizer_archive);
      const std::string rng = base64_decode(s.at("rng").get<std::string>());
      generator_.set_state(torch::tensor(std::vector<uint8_t>(rng.begin(), rng.end()), torch::kUInt8));
    } catch (const c10::Error& e) {
      throw std::invalid_argument(std::string("controller state is damaged: ") + e.what_without_backtrace());
    }
    baseline_ = s.at("baseline").get<double>();
    has_baseline_ = s.at("has_baseline").get<bool>();
    buffer_.clear();
    for (const json& item : s.at("buffer")) buffer_.push_back({item.at("candidate").get<Candidate>(), item.at("reward").get<double>()});
  }

 private:
  static void load_archive(torch::serialize::InputArchive& archive, const json& text) {
    std::istringstream in(base64_decode(text.get<std::string>()));
    archive.load_from(in);
  }

  void update() {
    std::vector<int64_t> flat;
    std::vector<float> rewards;
    for (const auto& [c, r] : buffer_) {
      flat.insert(flat.end(), c.begin(), c.end());
      rewards.push_back(static_cast<float>(r));
    }
    const auto batch = static_cast<int64_t>(buffer_.size());
    const torch::Tensor tokens = torch::tensor(flat, torch::kLong).view({batch, static_cast<int64_t>(counts_.size())});
    const torch::Tensor reward = torch::tensor(rewards);
    if (!has_baseline_) {
      baseline_ = reward.mean().item<double>();
      has_baseline_ = true;
    }
    const torch::Tensor advantage = reward - baseline_;
    torch::Tensor old_log_prob;
    {
      torch::NoGradGuard no_grad;
      old_log_prob = log_prob_and_entropy(policy_, tokens).first;
    }
    for (int epoch = 0; epoch < options_.epochs; ++epoch) {
      const auto [log_prob, entropy] = log_prob_and_entropy(policy_, tokens);
      const torch::Tensor ratio = (log_prob - old_log_prob).exp();
      const torch::Tensor clipped = ratio.clamp(1.0 - options_.clip, 1.0 + options_.clip);
      const torch::Tensor loss = -torch::min(ratio * advantage, clipped * advantage).mean() - options_.entropy * entropy;
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
    }
    baseline_ = options_.baseline_decay * baseline_ + (1.0 - options_.baseline_decay) * reward.mean().item<double>();
    buffer_.clear();
  }

  std::vector<int> counts_;
  PpoOptions options_;
  at::Generator generator_;
  Policy policy_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::vector<std::pair<Candidate, double>> buffer_;
  double baseline_ = 0;
  bool has_baseline_ = false;
};

}  // namespace

std::unique_ptr<Controller> make_ppo_controller(std::vector<int> choice_counts, uint64_t seed, PpoOptions options) {
  for (int c : choice_counts)
    if (c < 1) throw std::invalid_argument("every decision needs at least one choice");
  return std::make_unique<PpoController>(std::move(choice_counts), seed, options);
}

}  // namespace effscale::search
