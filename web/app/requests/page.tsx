import type { Metadata } from "next";
import { Suspense } from "react";
import { Requests } from "./view";

export const metadata: Metadata = { title: "Requests" };

export default function Page() {
  return (
    <Suspense>
      <Requests />
    </Suspense>
  );
}
