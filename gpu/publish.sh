#!/usr/bin/env bash
# Prepares .gpu/ for the GPU machine (no .NET, no network there; PyTorch's CUDA libtorch is):
#   .gpu/dotnet.tar.xz  this machine's .NET runtime with ASP.NET Core (../shared/gpu/pack.sh)
#   .gpu/app.tar.xz     conway (Conway.Cli) and Conway.Api, framework-dependent, published into one folder with the
#                       'external' backend: managed TorchSharp only, so TorchSharp loads the machine's CUDA libtorch
#   .gpu/data.tar.xz    the LifeGPT test sets (../shared does not travel)
# Everything is xz-packed: with the repository's 25 MB model a call must stay under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
../shared/gpu/pack.sh "$PWD/.gpu" >/dev/null
stage=$(mktemp -d)
for p in Conway.Cli Conway.Api; do
  # a separate artifacts path keeps the external build's obj/bin apart from the default CPU build
  dotnet publish "$p" -c Release -r linux-x64 --no-self-contained -p:TorchBackend=external -p:DebugType=none \
    --artifacts-path "$stage/build" -o "$stage/app" -v q -nologo
done
rm -rf "$stage/app/models"          # the shipped model travels once, with the repository (models/)
tar -cJf .gpu/app.tar.xz -C "$stage/app" .
tar -cJf .gpu/data.tar.xz -C ../shared/data/lifegpt .
rm -rf "$stage"
du -sh .gpu/*.tar.xz
