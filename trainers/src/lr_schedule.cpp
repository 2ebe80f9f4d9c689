#include "effscale/trainers/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace effscale::trainers {

ScheduleKind parse_schedule_kind(const std::string& text) {
  if (text == "exponential") return ScheduleKind::Exponential;
  if (text == "cosine") return ScheduleKind::Cosine;
  throw std::invalid_argument("learning-rate schedule '" + text + "': expected exponential or cosine");
}

double learning_rate(const LrScheduleOptions& o, int64_t step) {
  const double steps_per_epoch = static_cast<double>(std::max<int64_t>(1, o.steps_per_epoch));
  const double warmup_steps = o.warmup_epochs * steps_per_epoch;
  if (step < warmup_steps) return o.base_lr * static_cast<double>(step + 1) / warmup_steps;
  const double epoch = static_cast<double>(step) / steps_per_epoch;
  if (o.kind == ScheduleKind::Exponential) return o.base_lr * std::pow(o.decay_rate, std::floor(epoch / o.decay_epochs));
  const double span = std::max(o.total_epochs - o.warmup_epochs, 1e-9);
  const double progress = std::clamp((epoch - o.warmup_epochs) / span, 0.0, 1.0);
  return o.min_lr + (o.base_lr - o.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double scaled_learning_rate(double base_lr_per_256, int64_t batch_size) {
  return base_lr_per_256 * static_cast<double>(batch_size) / 256.0;
}

}  // namespace effscale::trainers
