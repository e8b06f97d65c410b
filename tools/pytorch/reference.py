"""Reference numbers for the three CNNs of the seed article (VGG16, NiN, GoogLeNet).

The model classes below are copied verbatim (attribute names, layer order)
from the article "dl学习笔记(11):VGG,NIN,GooleNet经典架构pytorch实现"
(/work/shared/seed/000_e0d3184d1a00bc11.txt). Nothing is downloaded; weights
are random and irrelevant -- only shapes, counts and MACs are recorded.

Run from the repository root (needs Debian's python3-torch):

    /usr/bin/python3 tools/pytorch/reference.py [--out DIR]

Writes VGG16.json, NiN.json, GoogLeNet.json and GoogLeNet_classes10.json into
DIR (default compiler/src/test/resources/reference/). Each file holds: model,
input, params, buffers (BatchNorm running_mean + running_var elements), macs
(Conv2d/Linear weight multiply-accumulates at batch 1), macs_by_output,
outputs, state_dict [key, shape] (without num_batches_tracked), modules
[name, type, params, macs] (submodules owning parameters) and layers
[name, type, output shape] (leaf modules in execution order).
"""
import argparse
import json
import os

import torch
import torch.nn as nn


# ---------------------------------------------------------------- article code

class VGG16(nn.Module):
    def __init__(self):
        super().__init__()
        self.feature_part = nn.Sequential(
            nn.Conv2d(3,64,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(64,64,3,padding=1),nn.ReLU(inplace=True),
            nn.MaxPool2d(2),

            nn.Conv2d(64,128,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(128,128,3,padding=1),nn.ReLU(inplace=True),
            nn.MaxPool2d(2),

            nn.Conv2d(128,256,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(256,256,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(256,256,3,padding=1),nn.ReLU(inplace=True),
            nn.MaxPool2d(2),

            nn.Conv2d(256,512,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(512,512,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(512,512,3,padding=1),nn.ReLU(inplace=True),
            nn.MaxPool2d(2),

            nn.Conv2d(512,512,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(512,512,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(512,512,3,padding=1),nn.ReLU(inplace=True),
            nn.MaxPool2d(2))

        self.clf_part = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(512*7*7,4096),nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096,4096),nn.ReLU(inplace=True),
            nn.Linear(4096,1000),nn.Softmax(dim=1))

    def forward(self,x):
        x = self.feature_part(x)
        x = x.view(-1,512*7*7)
        output = self.clf_part(x)
        return output


class NiN(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(
            nn.Conv2d(3,192,5,padding=2),nn.ReLU(inplace=True),
            nn.Conv2d(192,160,1),nn.ReLU(inplace=True),
            nn.Conv2d(160,96,1),nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3,stride=2),
            nn.Dropout(0.25))

        self.block2 = nn.Sequential(
            nn.Conv2d(96,192,5,padding=2),nn.ReLU(inplace=True),
            nn.Conv2d(192,192,1),nn.ReLU(inplace=True),
            nn.Conv2d(192,192,1),nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3,stride=2),
            nn.Dropout(0.25))

        self.block3 = nn.Sequential(
            nn.Conv2d(192,192,3,padding=1),nn.ReLU(inplace=True),
            nn.Conv2d(192,192,1),nn.ReLU(inplace=True),
            nn.Conv2d(192,10,1),nn.ReLU(inplace=True),
            nn.AvgPool2d(7,stride=1),
            nn.Softmax(dim=1))

    def forward(self,x):
        output = self.block3(self.block2(self.block1(x)))
        return output


class BasicConv(nn.Module):
    def __init__(self,in_channels, out_channels,**kwargs):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, out_channels, bias=False, **kwargs),
                                 nn.BatchNorm2d(out_channels),
                                 nn.ReLU(inplace=True))
    def forward(self,x):
        x = self.conv(x)
        return x


class Inception(nn.Module):
    def __init__(self
                 ,in_channels : int
                 ,ch1x1 : int
                 ,ch3x3red : int
                 ,ch3x3 : int
                 ,ch5x5red : int
                 ,ch5x5 : int
                 ,pool_proj : int
                ):
        super().__init__()
        #1x1
        self.branch1 = BasicConv(in_channels,ch1x1,kernel_size=1)
        #1x1 + 3x3
        self.branch2 = nn.Sequential(BasicConv(in_channels, ch3x3red, kernel_size=1)
                                     ,BasicConv(ch3x3red, ch3x3, kernel_size=3,padding=1))
        #1x1 + 5x5
        self.branch3 = nn.Sequential(BasicConv(in_channels, ch5x5red, kernel_size=1)
                                     ,BasicConv(ch5x5red, ch5x5, kernel_size=5, padding=2))
        #pool + 1x1
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3,stride=1, padding=1,ceil_mode=True)
                                    ,BasicConv(in_channels,pool_proj,kernel_size=1))
    def forward(self,x):
        branch1 = self.branch1(x)
        branch2 = self.branch2(x)
        branch3 = self.branch3(x)
        branch4 = self.branch4(x)
        outputs = [branch1, branch2, branch3, branch4]
        return torch.cat(outputs, 1)


class AuxClf(nn.Module):
    def __init__(self,in_channels : int, num_classes : int, **kwargs):
        super().__init__()
        self.feature_ = nn.Sequential(nn.AvgPool2d(kernel_size=5,stride=3)
                                     ,BasicConv(in_channels,128, kernel_size=1))
        self.clf_ = nn.Sequential(nn.Linear(4*4*128, 1024)
                                 ,nn.ReLU(inplace=True)
                                 ,nn.Dropout(0.7)
                                 ,nn.Linear(1024,num_classes))
    def forward(self,x):
        x = self.feature_(x)
        x = x.view(-1,4*4*128)
        x = self.clf_(x)
        return x


class GoogLeNet(nn.Module):
    def __init__(self,num_classes: int = 1000):
        super().__init__()

        #block1
        self.conv1 = BasicConv(3,64,kernel_size=7,stride=2,padding = 3)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3,stride=2,ceil_mode = True)

        #block2
        self.conv2 = BasicConv(64,64,kernel_size=1)
        self.conv3 = BasicConv(64,192,kernel_size=3, padding = 1)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3,stride=2,ceil_mode = True)

        #block3
        self.inception3a = Inception(192,64,96,128,16,32,32)
        self.inception3b = Inception(256,128,128,192,32,96,64)
        self.maxpool3 = nn.MaxPool2d(kernel_size=3,stride=2,ceil_mode = True)

        #block4
        self.inception4a = Inception(480,192,96,208,16,48,64)
        self.inception4b = Inception(512,160,112,224,24,64,64)
        self.inception4c = Inception(512,128,128,256,24,64,64)
        self.inception4d = Inception(512,112,144,288,32,64,64)
        self.inception4e = Inception(528,256,150,320,32,128,128)
        self.maxpool4 = nn.MaxPool2d(kernel_size=3,stride=2,ceil_mode = True)

        #block5
        self.inception5a = Inception(832,256,160,320,32,128,128)
        self.inception5b = Inception(832,384,192,384,48,128,128)

        #clf
        self.avgpool = nn.AdaptiveAvgPool2d((1,1))
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024,num_classes)

        #auxclf
        self.aux1 = AuxClf(512, num_classes) #4a
        self.aux2 = AuxClf(528, num_classes) #4d

    def forward(self,x):
        #block1
        x = self.maxpool1(self.conv1(x))

        #block2
        x = self.maxpool2(self.conv3(self.conv2(x)))

        #block3
        x = self.inception3a(x)
        x = self.inception3b(x)
        x = self.maxpool3(x)

        #block4
        x = self.inception4a(x)
        aux1 = self.aux1(x)

        x = self.inception4b(x)
        x = self.inception4c(x)
        x = self.inception4d(x)
        aux2 = self.aux2(x)

        x = self.inception4e(x)
        x = self.maxpool4(x)

        #block5
        x = self.inception5a(x)
        x = self.inception5b(x)

        #clf
        x = self.avgpool(x)
        x = torch.flatten(x,1)
        x = self.dropout(x)
        x = self.fc(x)

        return x, aux2, aux1


# ------------------------------------------------------------- measurement

def count(params):
    return sum(p.numel() for p in params)


def weight_macs(module, output):
    """Weight multiply-accumulates of one Conv2d/Linear call at batch 1 (a Linear on a map, as
    ConvNeXt's channels-last one, counts every position: output elements times input features)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def under(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def describe(model_name, model, input_shape, output_names):
    model.eval()
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    layers, leaf_macs = [], {}

    def hook_for(name):
        def hook(module, inputs, output):
            layers.append([name, type(module).__name__, list(output.shape[1:])])
            leaf_macs[name] = leaf_macs.get(name, 0) + weight_macs(module, output)
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in leaves]
    with torch.no_grad():
        out = model(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    outs = out if isinstance(out, tuple) else (out,)

    def macs_under(prefix):
        return sum(v for n, v in leaf_macs.items() if under(n, prefix))

    total = sum(leaf_macs.values())
    if output_names == ["output"]:
        by_output = {"output": total}
    else:  # GoogLeNet: main path vs. the two auxiliary classifiers
        aux = {a: macs_under(a) for a in ("aux1", "aux2")}
        by_output = {"main": total - sum(aux.values()), **aux}

    bn_buffers = sum(b.numel() for n, b in model.named_buffers()
                     if n.endswith("running_mean") or n.endswith("running_var"))
    modules = [[n, type(m).__name__, count(m.parameters()), macs_under(n)]
               for n, m in model.named_modules() if n and count(m.parameters()) > 0]
    return {
        "model": model_name,
        "input": list(input_shape),
        "params": count(p for p in model.parameters() if p.requires_grad),
        "buffers": bn_buffers,
        "macs": total,
        "macs_by_output": by_output,
        "outputs": [[n, list(o.shape[1:])] for n, o in zip(output_names, outs)],
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()
                       if not k.endswith("num_batches_tracked")],
        "modules": modules,
        "layers": layers,
    }


MODELS = [
    ("VGG16", VGG16, {}, [3, 224, 224], ["output"]),
    ("NiN", NiN, {}, [3, 32, 32], ["output"]),
    ("GoogLeNet", GoogLeNet, {}, [3, 224, 224], ["main", "aux2", "aux1"]),
    ("GoogLeNet_classes10", GoogLeNet, {"num_classes": 10}, [3, 224, 224],
     ["main", "aux2", "aux1"]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="compiler/src/test/resources/reference/")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for file_name, cls, kwargs, shape, outs in MODELS:
        ref = describe(file_name, cls(**kwargs), shape, outs)
        path = os.path.join(args.out, file_name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(ref, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"{path}: params={ref['params']:,} buffers={ref['buffers']:,} "
              f"macs={ref['macs']:,} {ref['macs_by_output']}")


if __name__ == "__main__":
    main()
