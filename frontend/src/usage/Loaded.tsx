import type { ReactNode } from "react";
import type { UseQueryResult } from "@tanstack/react-query";
import { LoadError, TableSkeleton } from "../components/DataState";

/** A query's data, or its skeleton while loading, or its error with a retry. */
export function Loaded<T>({ query, children }: { query: UseQueryResult<T>; children: (data: T) => ReactNode }) {
  if (query.error) return <LoadError error={query.error} retry={() => void query.refetch()} />;
  if (query.data === undefined) return <TableSkeleton />;
  return <>{children(query.data)}</>;
}
