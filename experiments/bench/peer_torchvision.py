#!/usr/bin/python3
"""The Python torchvision peer of bench_models: same workloads, same LibTorch, one number printed.

infer_b0: efficientnet_b0, 224x224, batch 1, eval, inference mode -> median latency in ms
train_b0: efficientnet_b0(num_classes=10), 64x64, batch 32, SGD momentum 0.9 -> images/s (median step)
"""
import argparse
import statistics
import time

import torch
import torchvision


def median_seconds(warmup, iters, step):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def bench_infer(warmup, iters):
    model = torchvision.models.efficientnet_b0().eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        return 1000.0 * median_seconds(warmup, iters, lambda: model(x))


def bench_train(warmup, iters):
    model = torchvision.models.efficientnet_b0(num_classes=10).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(32, 3, 64, 64)
    y = torch.randint(0, 10, (32,))

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return 32.0 / median_seconds(warmup, iters, step)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", required=True, choices=["infer_b0", "train_b0"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bench = bench_infer if args.case == "infer_b0" else bench_train
    print(bench(args.warmup, args.iters))


if __name__ == "__main__":
    main()
