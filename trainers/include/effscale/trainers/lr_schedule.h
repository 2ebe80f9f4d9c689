#pragma once
// Learning-rate schedules as pure functions of the step, so a resumed run needs only the step count.

#include <cstdint>
#include <string>

namespace effscale::trainers {

// The schedule's shape after warmup.
enum class ScheduleKind { Exponential, Cosine };

// "exponential" or "cosine" as a kind; throws std::invalid_argument naming the value otherwise.
ScheduleKind parse_schedule_kind(const std::string& text);

// Options of a schedule. Steps are optimizer steps; epochs are converted with steps_per_epoch.
struct LrScheduleOptions {
  ScheduleKind kind = ScheduleKind::Exponential;  // staircase exponential (the paper's) or cosine
  double base_lr = 0.016;            // peak learning rate after warmup
  double warmup_epochs = 5;          // linear warmup from 0 to base_lr
  double decay_epochs = 2.4;         // exponential: multiply by decay_rate every decay_epochs (staircase)
  double decay_rate = 0.97;
  double total_epochs = 350;         // cosine: reaches min_lr here
  double min_lr = 0.0;
  int64_t steps_per_epoch = 1;       // >= 1
};

// The learning rate at optimizer step `step` (0-based). Exponential: base * rate^floor(epoch / decay_epochs)
// with epoch = step / steps_per_epoch, after a linear warmup lr = base * (step + 1) / warmup_steps. Cosine:
// min + (base - min) * (1 + cos(pi * progress)) / 2 after the same warmup.
double learning_rate(const LrScheduleOptions& options, int64_t step);

// The paper's scaling: base_lr_per_256 * batch_size / 256.
double scaled_learning_rate(double base_lr_per_256, int64_t batch_size);

}  // namespace effscale::trainers
