# syntax=docker/dockerfile:1
# One image for every reins role. Its entrypoint is the `reins` CLI, so a container's command is a reins
# subcommand: `scheduler`, `worker`, `board`, `submit FILE`, `status RUN`, … (see docker-compose.yml).
#   docker build -t reins .
#   docker run --rm -e REINS_REDIS_URL=redis://my-redis:6379 reins doctor

# ---- build: every package (TypeScript is a devDependency), compile, then drop the dev packages.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Manifests first, so `npm ci` stays cached until a dependency changes.
COPY package.json package-lock.json ./
COPY libs/shared/package.json libs/shared/
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/worker/package.json apps/worker/
COPY apps/board/package.json apps/board/
COPY apps/cli/package.json apps/cli/
COPY apps/cli/bin apps/cli/bin
# --ignore-scripts: the root `prepare` (the build) would run before the sources are here, and the dev copy of
# Claude Code would unpack a ~370 MB binary that the prune below throws away. No production package needs
# its install script: msgpackr-extract finds its prebuilt optional package when it is loaded.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: Node 20, tmux, git, the pinned Claude Code CLI, and the compiled apps.
FROM node:20-bookworm-slim AS runtime
# tmux runs each agent; git makes worktrees, checkpoints and merge-backs. tini is PID 1: the tmux server
# daemonizes and is re-parented to PID 1, which must reap it, and tini passes `docker stop`'s SIGTERM to
# the reins CLI (which forwards it, once, to the role: the worker then drains).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tmux git ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
# The same version as the root package.json's devDependency, which the end-to-end tests run. Its postinstall
# puts the native binary in place; `claude --version` fails the build if that went wrong. (npm warns that the
# package asks for Node 22: the CLI is a native binary, Node only runs its installer.)
RUN npm install -g --no-audit --no-fund @anthropic-ai/claude-code@2.1.328 \
 && npm cache clean --force \
 && claude --version
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/libs ./libs
COPY --from=build /app/apps ./apps
COPY skills ./skills
COPY plugin ./plugin
COPY examples ./examples
# `reins` on PATH for `docker exec`; the data dir is created here so a named volume mounted on it starts
# out owned by the unprivileged user.
# reins-agent: the user a worker started as root runs its agents as (REINS_AGENT_USER, docs/deployment.md).
RUN ln -s /app/apps/cli/bin/reins.js /usr/local/bin/reins \
 && install -d -o node -g node /var/lib/reins \
 && useradd --system --user-group --no-create-home --shell /usr/sbin/nologin reins-agent
ENV NODE_ENV=production \
    REINS_DATA_DIR=/var/lib/reins \
    REINS_CLAUDE_BIN=/usr/local/bin/claude
# Not root: the scheduler, the board and the CLI need no privilege. The worker service runs as root
# (docker-compose.yml), only so it can start each agent as reins-agent, which holds nothing of the fleet.
USER node
EXPOSE 8700
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/apps/cli/bin/reins.js"]
CMD ["--help"]
