import type { NextConfig } from "next";

// `asahi serve` serves the export at /dashboard/ (the Makefile builds it with NEXT_BASE_PATH=/dashboard);
// deployed on its own (any static host), it lives at the root.
const basePath = process.env.NEXT_BASE_PATH ?? "";

const config: NextConfig = {
  output: "export",
  // A second build (the deployment check in the test suite) goes to its own folder, never over the served one.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  trailingSlash: true,
  basePath,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
};

export default config;
