#!/usr/bin/env bash
# Prepares .gpu/ for the GPU machine (no .NET, no network there; PyTorch's CUDA libtorch is):
#   .gpu/dotnet.tar.xz   this machine's .NET runtime with ASP.NET Core (../shared/gpu/pack.sh)
#   .gpu/data/           the LifeGPT test sets (../shared does not travel)
#   .gpu/app/<Project>/  framework-dependent publish with the 'external' backend: managed TorchSharp only,
#                        so TorchSharp loads the machine's CUDA libtorch instead of a CPU one.
# Usage: gpu/publish.sh [Project ...]   (default: Conway.Cli Conway.Api)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=("${@:-Conway.Cli Conway.Api}")
../shared/gpu/pack.sh "$PWD/.gpu" >/dev/null
mkdir -p .gpu/data && cp ../shared/data/lifegpt/*.csv .gpu/data/
for p in ${projects[@]}; do
  rm -rf ".gpu/app/$p"
  # a separate artifacts path keeps the external build's obj/bin apart from the default CPU build
  dotnet publish "$p" -c Release -r linux-x64 --no-self-contained -p:TorchBackend=external --artifacts-path .gpu/build -o ".gpu/app/$p" -v q -nologo
done
rm -rf .gpu/build
du -sh .gpu/dotnet.tar.xz .gpu/app/*
