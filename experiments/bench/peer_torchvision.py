#!/usr/bin/python3
"""The Python torchvision peer of bench_models: same workloads, same LibTorch, one number printed.

gemm: a 2048 x 2048 fp32 matrix product -> GFLOP/s
infer: efficientnet_<--model> at --resolution, --batch, eval, inference mode, in the --form asked: eager (as
       shipped), channels_last (model and input), frozen (torch.jit.optimize_for_inference(torch.jit.freeze(
       torch.jit.script(model)))), or best (each of the three, the fastest kept) -> median latency in ms at
       batch 1, images/s above. infer_b0 is infer with the defaults, eager.
train_b0: efficientnet_b0(num_classes=10), 64x64, batch 32, SGD momentum 0.9 -> images/s (median step)
train_b0_recipe: train_b0 with RMSprop(alpha 0.9, eps 1e-3, momentum 0.9, wd 1e-5), label smoothing 0.1 and
                 an EMA of weights and buffers updated every step (timm's ModelEmaV2 way) -> images/s
train_b0_data_parallel: train_b0 with the batch of 32 split over torchrun's ranks, in DistributedDataParallel
                        (Gloo) -> images/s of the whole group, printed by rank 0
load_folder: ImageFolder + RandomResizedCrop(224, bicubic as ours) + flip + ToTensor + Normalize, DataLoader(batch 32,
             num_workers = --threads) -> images/s
"""
import argparse
import copy
import resource
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


def bench_gemm(warmup, iters):
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2.0 * 2048 ** 3 / median_seconds(warmup, iters, lambda: a @ b) / 1e9


def infer_seconds(args, form):
    model = getattr(torchvision.models, "efficientnet_" + args.model)().eval()
    x = torch.randn(args.batch, 3, args.resolution, args.resolution)
    if form == "channels_last":
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    elif form == "frozen":
        with torch.no_grad():
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    with torch.inference_mode():
        return median_seconds(args.warmup, args.iters, lambda: model(x))


def bench_infer(args):
    forms = ["eager", "channels_last", "frozen"] if args.form == "best" else [args.form]
    seconds = min(infer_seconds(args, form) for form in forms)
    return 1000.0 * seconds if args.batch == 1 else args.batch / seconds


def training_model_and_batch(memory_format):
    model = torchvision.models.efficientnet_b0(num_classes=10).train().to(memory_format=memory_format)
    x = torch.randn(32, 3, 64, 64).contiguous(memory_format=memory_format)
    return model, x, torch.randint(0, 10, (32,))


def bench_train(warmup, iters, memory_format, data_parallel=False):
    model, x, y = training_model_and_batch(memory_format)
    if data_parallel:
        torch.distributed.init_process_group("gloo")
        share = x.shape[0] // torch.distributed.get_world_size()
        begin = share * torch.distributed.get_rank()
        x, y = x[begin:begin + share], y[begin:begin + share]
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return 32.0 / median_seconds(warmup, iters, step)


def bench_train_recipe(warmup, iters, memory_format):
    model, x, y = training_model_and_batch(memory_format)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, eps=1e-3, momentum=0.9, weight_decay=1e-5)
    ema = copy.deepcopy(model).eval()
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    state = {"step": 0}

    def step():
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
        d = min(0.9999, (1 + state["step"]) / (10 + state["step"]))
        state["step"] += 1
        with torch.no_grad():
            for e, p in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.dtype.is_floating_point:
                    e.mul_(d).add_(p, alpha=1 - d)
                else:
                    e.copy_(p)

    return 32.0 / median_seconds(warmup, iters, step)


def bench_load_folder(data_dir, threads, warmup, iters):
    from torchvision import transforms as T
    transform = T.Compose([T.RandomResizedCrop(224, interpolation=T.InterpolationMode.BICUBIC), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    data = torchvision.datasets.ImageFolder(data_dir, transform=transform)
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers=threads, drop_last=True)
    images = 0
    start = time.perf_counter()
    for epoch in range(warmup + iters):
        if epoch == warmup:
            start, images = time.perf_counter(), 0
        for x, _ in loader:
            images += x.shape[0]
    return images / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", required=True, choices=["gemm", "infer", "infer_b0", "train_b0", "train_b0_recipe", "train_b0_data_parallel", "load_folder"])
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--model", default="b0", help="infer: efficientnet_b0 .. b7")
    parser.add_argument("--resolution", type=int, default=224, help="infer: image size")
    parser.add_argument("--batch", type=int, default=1, help="infer: batch size")
    parser.add_argument("--form", default="eager", choices=["eager", "channels_last", "frozen", "best"], help="infer: the model's form")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--channels-last", action="store_true", help="training cases: channels_last model and batch")
    parser.add_argument("--peak-rss", action="store_true", help="print the process's peak resident memory in MB instead")
    args = parser.parse_args()
    if args.peak_rss:
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            run_case(args)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    else:
        run_case(args)


def run_case(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.case == "load_folder":
        print(bench_load_folder(args.data_dir, args.threads, args.warmup, args.iters))
        return
    if args.case == "gemm":
        print(bench_gemm(args.warmup, args.iters))
        return
    if args.case in ("infer", "infer_b0"):
        print(bench_infer(args))
        return
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    if args.case == "train_b0_data_parallel":
        rate = bench_train(args.warmup, args.iters, memory_format, data_parallel=True)
        if torch.distributed.get_rank() == 0:
            print(rate)
        return
    bench = {"train_b0": bench_train, "train_b0_recipe": bench_train_recipe}[args.case]
    print(bench(args.warmup, args.iters, memory_format))


if __name__ == "__main__":
    main()
