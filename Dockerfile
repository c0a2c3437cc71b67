# syntax=docker/dockerfile:1
# The Conway service. CPU (default):   docker build -t conway .
#                     CUDA:            docker build --build-arg BACKEND=cuda -t conway:cuda .
# The CUDA variant publishes with -p:TorchBackend=cuda-linux (TorchSharp-cuda-linux from NuGet, ~2 GB of libtorch)
# on an nvidia/cuda runtime base. The base images are build arguments so that deploy/container-test.sh can build
# from local images where no registry is reachable.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0-noble
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG BACKEND=cpu

FROM ${SDK_IMAGE} AS build
ARG BACKEND
WORKDIR /src
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY Conway.Analyzers/Conway.Analyzers.csproj Conway.Analyzers/
COPY Conway.Model/Conway.Model.csproj Conway.Model/
COPY Conway.Api/Conway.Api.csproj Conway.Api/
RUN TORCH=$([ "$BACKEND" = cuda ] && echo cuda-linux || echo cpu) \
 && dotnet restore Conway.Api/Conway.Api.csproj -r linux-x64 -p:TorchBackend=$TORCH
COPY Conway.Analyzers/ Conway.Analyzers/
COPY Conway.Model/ Conway.Model/
COPY Conway.Api/ Conway.Api/
COPY models/ models/
# publish also rewrites TorchSharp's GLIBCXX_3.4.32 need when this SDK image's libstdc++ is older (build/TorchSharpGlibcxxFix.targets);
# for linux-x64 only (framework-dependent): TorchSharp-cpu also carries libtorch for Windows and macOS, 0.5 GB the image never loads
RUN TORCH=$([ "$BACKEND" = cuda ] && echo cuda-linux || echo cpu) \
 && dotnet publish Conway.Api/Conway.Api.csproj -c Release --no-restore -r linux-x64 --self-contained false -p:TorchBackend=$TORCH -o /app

FROM ${RUNTIME_IMAGE} AS runtime-cpu

FROM ${RUNTIME_IMAGE} AS aspnet
FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid app --no-create-home --shell /bin/false app
ENV APP_UID=1654 DOTNET_RUNNING_IN_CONTAINER=true

FROM runtime-${BACKEND} AS final
WORKDIR /app
COPY --from=build /app ./
# on SIGTERM: 5 s unready but listening, then up to 25 s of drain, within a 35 s shutdown timeout; docker stop waits
# only 10 s by default, so run it with --stop-timeout 45 (compose and the Kubernetes manifests set 45 s)
ENV ASPNETCORE_HTTP_PORTS=8080 Model__ShutdownDelaySeconds=5 Model__DrainSeconds=25
EXPOSE 8080
USER $APP_UID
HEALTHCHECK --interval=15s --timeout=6s --start-period=180s --retries=3 CMD ["dotnet", "Conway.Api.dll", "--healthcheck"]
ENTRYPOINT ["dotnet", "Conway.Api.dll"]
