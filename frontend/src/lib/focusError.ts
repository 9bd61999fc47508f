// Every form's answer to an error: bring the first problem into view and put the focus
// on it, so neither a field error below the fold nor an alert at the top goes unseen.

/** The first invalid field (Mantine marks it aria-invalid) or error alert inside root. */
export function firstError(root: ParentNode): HTMLElement | null {
  return root.querySelector<HTMLElement>('[aria-invalid="true"], [role="alert"]');
}

/** Scroll to and focus the first error once React has rendered it. */
export function focusFirstError(root: HTMLElement | null, frames = 10): void {
  if (!root) return;
  // Errors are set in the same tick as this call and reach the DOM a frame or so later
  // (a section holding them may be opening): look again for a few frames.
  requestAnimationFrame(() => {
    const target = firstError(root);
    if (!target || target.offsetParent === null) {
      if (frames > 1) focusFirstError(root, frames - 1);
      return;
    }
    target.scrollIntoView({ block: "center" });
    if (target.getAttribute("role") === "alert" && !target.hasAttribute("tabindex")) target.tabIndex = -1;
    target.focus({ preventScroll: true });
  });
}
