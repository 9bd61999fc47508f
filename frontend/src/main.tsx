import "./styles";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MantineProvider, createTheme } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ApiError } from "./api/errors";
import { App } from "./App";

const theme = createTheme({
  primaryColor: "indigo",
  defaultRadius: "md",
  fontFamily:
    "Inter, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
  headings: { fontWeight: "650" },
  components: {
    Modal: { defaultProps: { closeButtonProps: { "aria-label": "Close" } }, styles: { title: { fontWeight: 650, fontSize: "var(--mantine-font-size-lg)" } } },
    // Badges in table cells must not be squeezed to an ellipsis.
    Badge: { styles: { root: { flexShrink: 0, minWidth: "max-content" } } },
    // The up/down steppers are unnamed buttons to a screen reader; typing and the arrow
    // keys do the same.
    NumberInput: { defaultProps: { hideControls: true } },
    Drawer: { defaultProps: { closeButtonProps: { "aria-label": "Close" } }, styles: { title: { fontWeight: 650, fontSize: "var(--mantine-font-size-lg)" } } },
  },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Client errors (401/403/404) will not fix themselves; retry only the others, once.
      retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 1,
      refetchOnWindowFocus: true,
      staleTime: 5_000,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {/* "auto": follow the browser's prefers-color-scheme (dark mode). */}
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <Notifications position="top-right" limit={4} />
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
