# Source on the GPU machine, from the repository root: unpacks the carried .NET runtime, programs and data, and
# points TorchSharp at PyTorch's CUDA libtorch. Then: dotnet /tmp/conway/conway.dll <verb> ...
# A call on a still-warm machine that carries no .gpu/ uses what the previous call unpacked into /tmp.
mkdir -p /tmp/dn /tmp/conway /tmp/lifegpt
if [ -d .gpu ]; then
  tar -xJf .gpu/dotnet.tar.xz -C /tmp/dn && tar -xJf .gpu/app.tar.xz -C /tmp/conway && tar -xJf .gpu/data.tar.xz -C /tmp/lifegpt
fi
export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1
# libtorch, and NVRTC for the fused kernels (PyTorch's CUDA wheels keep it in site-packages/nvidia/cu13/lib, or cuda_nvrtc/lib for CUDA 12)
site=$(python3 -c 'import torch,os;print(os.path.dirname(os.path.dirname(torch.__file__)))')
export LD_LIBRARY_PATH=$site/torch/lib:$site/nvidia/cu13/lib:$site/nvidia/cuda_nvrtc/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
