import type { Metadata } from "next";
import { Suspense } from "react";
import { SignIn } from "./view";

export const metadata: Metadata = { title: "Sign up or sign in" };

export default function Page() {
  return (
    <Suspense>
      <SignIn />
    </Suspense>
  );
}
