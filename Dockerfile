# syntax=docker/dockerfile:1
# Build stage: install and compile with the dev tools, then keep only production packages.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm ci --no-audit --no-fund && npx tsc -b && npm prune --omit=dev

# Run stage: Node 20 with tmux and git, the compiled apps, the skills, and the pinned Claude Code CLI.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tmux git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
COPY skills ./skills
COPY examples ./examples
RUN npm install --no-save --no-audit --no-fund @anthropic-ai/claude-code@2.1.328 \
 && ln -sf /app/node_modules/.bin/claude /usr/local/bin/claude
ENV REINS_DATA_DIR=/var/lib/reins NODE_ENV=production
ENTRYPOINT ["node", "/app/apps/cli/bin/reins.js"]
CMD ["--help"]
