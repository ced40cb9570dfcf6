/**
 * Template source -> Handlebars.precompile() output. Empty here (tests and tsc compile templates at
 * run time); scripts/build.mjs replaces this module with every templates/**.hbs precompiled, so
 * the CLI ships only the Handlebars runtime and never parses a template.
 */
export const PRECOMPILED = new Map<string, TemplateSpecification>();
