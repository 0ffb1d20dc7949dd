import type { Metadata } from "next";
import { Playground } from "./view";

export const metadata: Metadata = { title: "Playground" };

export default function Page() {
  return <Playground />;
}
