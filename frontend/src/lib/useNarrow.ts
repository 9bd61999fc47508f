import { useMediaQuery } from "@mantine/hooks";

// Read synchronously so the first render already has the right layout (no flash).
function useMedia(query: string): boolean {
  return useMediaQuery(query, window.matchMedia(query).matches, { getInitialValueInEffect: false });
}

/** Below Mantine's `sm` breakpoint: lists become cards instead of tables. */
export function useNarrow(): boolean {
  return useMedia("(max-width: 47.99em)");
}

/** Phone-sized windows (below `xs`): dialogs take the whole screen. */
export function usePhone(): boolean {
  return useMedia("(max-width: 35.99em)");
}
