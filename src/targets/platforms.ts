/**
 * The platforms a bundle deploys to: one module per platform, one line each here. A new platform is
 * a folder (src/targets/<platform>/, its model in src/model/), a line here and its name in PLATFORMS.
 */
import type { Platform, Spec } from '../spec/schema.js';
import type { RenderContext } from '../render/context.js';
import type { BundleBuilder } from '../render/bundle.js';
import { renderCompose } from './compose/index.js';
import { renderSwarm } from './swarm/index.js';
import { renderHosts } from './hosts/index.js';

export interface PlatformOptions {
  /** Multi-region: the region this (sub-)bundle is for; its services are pinned there where the platform can. */
  region?: string;
  /** Where the platform's deploy script finds .env, relative to itself. */
  envRel?: string;
  /** Where it finds the bundle's pki/ folder, relative to itself. */
  pkiRel?: string;
  /** Prefix of its certificates' names in pki/ (region names: each region's hosts are its own). */
  certPrefix?: string;
}

export interface PlatformTarget {
  /** Renders every service of the deployment (or of one region of it) into the bundle. */
  render(spec: Spec, ctx: RenderContext, b: BundleBuilder, o: PlatformOptions): void;
  /** Whether it can run the multi-server tiers (more than one server). */
  multiServer: boolean;
}

export const PLATFORM_TARGETS: Record<Platform, PlatformTarget> = {
  compose: { render: (spec, ctx, b) => renderCompose(spec, ctx, b), multiServer: false },
  swarm: { render: (spec, ctx, b, o) => void renderSwarm(spec, ctx, b, o), multiServer: true },
  hosts: { render: (spec, ctx, b, o) => renderHosts(spec, ctx, b, o), multiServer: true },
};
