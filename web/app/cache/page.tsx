import type { Metadata } from "next";
import { Cache } from "./view";

export const metadata: Metadata = { title: "Cache" };

export default function Page() {
  return <Cache />;
}
